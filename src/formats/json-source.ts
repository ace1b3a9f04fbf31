import { CairnError, type ErrorCode } from '../errors.ts';

/**
 * The exact source text of parts of a JSON document. DESIGN §4 keeps stored attestations byte for
 * byte as received, but `JSON.parse` gives values, not the text they came from; this scanner finds
 * where each value starts and ends (RFC 8259 grammar) so the received characters can be kept.
 *
 * It walks text that `JSON.parse` has already accepted, and checks the structure only as far as
 * it needs to find boundaries; text it cannot walk is refused with the caller's error code.
 */

/** A JSON value together with the exact text it was parsed from. */
export interface ReceivedJson {
  value: unknown;
  text: string;
}

class JsonScanner {
  constructor(
    private readonly text: string,
    private readonly code: ErrorCode,
  ) {}

  fail(at: number, expected: string): never {
    throw new CairnError(this.code, `expected ${expected} at offset ${at} of the JSON text`);
  }

  /** RFC 8259 §2: insignificant whitespace is space, tab, line feed and carriage return only. */
  skipWhitespace(at: number): number {
    let i = at;
    while (i < this.text.length) {
      const c = this.text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      i++;
    }
    return i;
  }

  expect(at: number, char: string): number {
    if (this.text[at] !== char) this.fail(at, `'${char}'`);
    return at + 1;
  }

  /** The end (exclusive) of the string starting at `at`; an escape hides the character after the backslash. */
  stringEnd(at: number): number {
    this.expect(at, '"');
    for (let i = at + 1; i < this.text.length; i++) {
      const c = this.text[i];
      if (c === '\\') i++;
      else if (c === '"') return i + 1;
    }
    return this.fail(this.text.length, 'the end of a string');
  }

  /** The end (exclusive) of the value starting at `at`: brackets inside strings do not count. */
  valueEnd(at: number): number {
    const first = this.text[at];
    if (first === '"') return this.stringEnd(at);
    if (first === '{' || first === '[') {
      let depth = 0;
      for (let i = at; i < this.text.length; i++) {
        const c = this.text[i];
        if (c === '"') i = this.stringEnd(i) - 1;
        else if (c === '{' || c === '[') depth++;
        else if (c === '}' || c === ']') {
          depth--;
          if (depth === 0) return i + 1;
        }
      }
      return this.fail(this.text.length, `the end of the ${first === '{' ? 'object' : 'array'} opened at offset ${at}`);
    }
    // A number, true, false or null: everything up to the next delimiter.
    let i = at;
    while (i < this.text.length && !/[\s,\]}]/.test(this.text[i]!)) i++;
    if (i === at) this.fail(at, 'a value');
    return i;
  }

  /** The whole text must be one value (with whitespace around it) that starts with `open`. */
  topLevel(open: '[' | '{'): number {
    const start = this.skipWhitespace(0);
    if (this.text[start] !== open) this.fail(start, `'${open}'`);
    if (this.skipWhitespace(this.valueEnd(start)) !== this.text.length) this.fail(this.valueEnd(start), 'the end of the text');
    return start;
  }
}

/** The exact text of each element of the JSON array `text`, without the whitespace around it. */
export function jsonArrayElementTexts(text: string, code: ErrorCode = 'request.malformed'): string[] {
  const scan = new JsonScanner(text, code);
  let i = scan.skipWhitespace(scan.topLevel('[') + 1);
  const elements: string[] = [];
  if (text[i] === ']') return elements;
  for (;;) {
    const end = scan.valueEnd(i);
    elements.push(text.slice(i, end));
    i = scan.skipWhitespace(end);
    if (text[i] === ']') return elements;
    i = scan.skipWhitespace(scan.expect(i, ','));
  }
}

/**
 * The exact text of member `name` of the JSON object `text`. Names compare after unescaping, and
 * the last member of a repeated name wins, as `JSON.parse` decides: the text kept is then always
 * the text of the value that was checked.
 */
export function jsonMemberText(text: string, name: string, code: ErrorCode = 'request.malformed'): string | undefined {
  const scan = new JsonScanner(text, code);
  let i = scan.skipWhitespace(scan.topLevel('{') + 1);
  let found: string | undefined;
  if (text[i] === '}') return found;
  for (;;) {
    const keyEnd = scan.stringEnd(i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = scan.skipWhitespace(scan.expect(scan.skipWhitespace(keyEnd), ':'));
    const end = scan.valueEnd(i);
    if (key === name) found = text.slice(i, end);
    i = scan.skipWhitespace(end);
    if (text[i] === '}') return found;
    i = scan.skipWhitespace(scan.expect(i, ','));
  }
}

/** Each element of a received JSON array, with its own exact text. */
export function receivedArrayElements(received: ReceivedJson, code: ErrorCode = 'request.malformed'): ReceivedJson[] {
  if (!Array.isArray(received.value)) throw new CairnError(code, 'expected a JSON array');
  const values: unknown[] = received.value;
  const texts = jsonArrayElementTexts(received.text, code);
  if (texts.length !== values.length) throw new CairnError(code, `the JSON text holds ${texts.length} array elements, its value ${values.length}`);
  return values.map((value, i) => ({ value, text: texts[i]! }));
}

/** Member `name` of a received JSON object, with its exact text; undefined when absent. */
export function receivedMember(received: ReceivedJson, name: string, code: ErrorCode = 'request.malformed'): ReceivedJson | undefined {
  const value = received.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CairnError(code, 'expected a JSON object');
  if (!Object.hasOwn(value, name)) return undefined;
  const text = jsonMemberText(received.text, name, code);
  if (text === undefined) throw new CairnError(code, `the JSON text has no member ${JSON.stringify(name)}`);
  return { value: (value as Record<string, unknown>)[name], text };
}
