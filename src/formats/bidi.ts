/**
 * Unicode bidirectional controls in package metadata (UAX #9). An unclosed RIGHT-TO-LEFT
 * OVERRIDE (U+202E) in a summary or name reverses everything a page shows after it — the
 * "Trojan Source" trick applied to an index: `evil` can be made to read `live`, and a filename's
 * extension can appear to change. Text is kept (right-to-left languages use these controls
 * legitimately) but isolated: every embedding it opens is closed within it, and it is wrapped
 * in FIRST STRONG ISOLATE … POP DIRECTIONAL ISOLATE, which is what HTML's `<bdi>` does, and
 * which (unlike an element) is also valid inside attribute values and `<title>`.
 */

/** LRE RLE PDF LRO RLO, LRI RLI FSI PDI, LRM RLM, ALM. */
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/;
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;

const EMBEDDING_OPENERS = new Set(['\u202a', '\u202b', '\u202d', '\u202e']);
const ISOLATE_OPENERS = new Set(['\u2066', '\u2067', '\u2068']);
const PDF = '\u202c';
const FSI = '\u2068';
const PDI = '\u2069';

export function hasBidiControls(text: string): boolean {
  return BIDI_CONTROL.test(text);
}

/**
 * The text with its embeddings and isolates balanced: a closer with nothing to close is dropped
 * (a stray PDI would otherwise end the isolate this text is wrapped in), and whatever is left
 * open is closed at the end, innermost first.
 */
export function balanceBidiControls(text: string): string {
  const open: ('E' | 'I')[] = [];
  let out = '';
  for (const c of text) {
    if (EMBEDDING_OPENERS.has(c)) {
      open.push('E');
      out += c;
    } else if (ISOLATE_OPENERS.has(c)) {
      open.push('I');
      out += c;
    } else if (c === PDF) {
      if (open.at(-1) === 'E') {
        open.pop();
        out += c;
      }
    } else if (c === PDI) {
      if (!open.includes('I')) continue;
      while (open.at(-1) === 'E') {
        open.pop();
        out += PDF;
      }
      open.pop();
      out += c;
    } else {
      out += c;
    }
  }
  while (open.length > 0) out += open.pop() === 'E' ? PDF : PDI;
  return out;
}

/** Text with bidi controls, isolated from what surrounds it; any other text unchanged. */
export function isolateBidi(text: string): string {
  return hasBidiControls(text) ? `${FSI}${balanceBidiControls(text)}${PDI}` : text;
}

/** Text without any bidi control: for feeds, whose readers may not implement isolates. */
export function stripBidiControls(text: string): string {
  return text.replace(BIDI_CONTROLS, '');
}
