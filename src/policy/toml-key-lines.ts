import { parseTOML, type AST } from 'toml-eslint-parser';

type KeyPath = readonly (string | number)[];

/** `builders[1].identity`: the spelling policy errors use for a key. */
function pathText(path: KeyPath): string {
  let out = '';
  for (const segment of path) out += typeof segment === 'number' ? `[${segment}]` : out === '' ? segment : `.${segment}`;
  return out;
}

/**
 * The line each key of a TOML document is defined on, read from toml-eslint-parser's syntax tree
 * (the values come from smol-toml, which reports positions only for syntax errors). A key's
 * line is where it first appears: a table header, a dotted key, an inline table or an array
 * element each locate their whole path, so `[[builders]]` also locates `builders`.
 */
export class TomlKeyLines {
  private readonly lines = new Map<string, number>();

  constructor(text: string) {
    let program: AST.TOMLProgram;
    try {
      // TOML 1.1, as smol-toml accepts it: both parsers must read the same documents.
      program = parseTOML(text, { tomlVersion: '1.1' });
    } catch {
      // Only reached for a document smol-toml accepted and this parser did not: errors then
      // name the key without a line rather than not at all.
      return;
    }
    for (const node of program.body[0].body) {
      if (node.type === 'TOMLTable') {
        this.note(node.resolvedKey, node.loc.start.line);
        for (const keyValue of node.body) this.keyValue(node.resolvedKey, keyValue);
      } else {
        this.keyValue([], node);
      }
    }
  }

  private keyValue(table: KeyPath, node: AST.TOMLKeyValue): void {
    const path = [...table, ...node.key.keys.map((k) => (k.type === 'TOMLBare' ? k.name : k.value))];
    this.note(path, node.loc.start.line);
    this.value(path, node.value);
  }

  private value(path: KeyPath, node: AST.TOMLContentNode): void {
    if (node.type === 'TOMLInlineTable') {
      for (const keyValue of node.body) this.keyValue(path, keyValue);
    } else if (node.type === 'TOMLArray') {
      node.elements.forEach((element, i) => {
        this.note([...path, i], element.loc.start.line);
        this.value([...path, i], element);
      });
    }
  }

  private note(path: KeyPath, line: number): void {
    for (let n = 1; n <= path.length; n++) {
      const key = pathText(path.slice(0, n));
      if (!this.lines.has(key)) this.lines.set(key, line);
    }
  }

  /** The line of `path`, or of its nearest located parent. */
  lineOf(path: string): number | undefined {
    for (let p = path; p !== ''; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
      const line = this.lines.get(p);
      if (line !== undefined) return line;
    }
    return undefined;
  }
}
