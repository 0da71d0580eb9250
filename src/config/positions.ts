/**
 * Maps a key path in the parsed document back to a line and column, so every error names the place
 * in the user's file (`file:line:col key.path: message`), as the YAML parser saw it.
 */
import { isMap, isScalar, isSeq, parseDocument, visit, type Document, type Node } from 'yaml';

export type KeyPath = ReadonlyArray<string | number>;

export interface Position { line: number; col: number }

/**
 * Offsets to 1-based line and column, from the text itself. (yaml's own LineCounter is fed by its
 * lexer, which stops counting some newlines once a document has errors: positions after a syntax
 * error came out lines early, or in columns past the end of their line.) Line breaks are YAML's:
 * `\n`, `\r\n` and a lone `\r`.
 */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) this.starts.push(i + 1);
    }
  }

  position(offset: number): Position {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid; else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - this.starts[lo]! + 1 };
  }
}

export type YamlRead =
  | { ok: true; doc: Document; lines: LineIndex; value: unknown }
  | { ok: false; doc: Document; lines: LineIndex; errors: Array<{ position: Position; message: string }> };

/**
 * Parses YAML (or JSON) for a loader: the document with positions, and its value — or its syntax
 * errors (the first `maxErrors`: after one, the parser's later errors are mostly echoes of it, the
 * last one kept says how many more there were), or why the value could not be built (an alias with
 * no anchor, an alias bomb), at the place it happened. Never throws.
 */
export function readYaml(text: string, maxErrors: number): YamlRead {
  const lines = new LineIndex(text);
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const errors = doc.errors.slice(0, maxErrors).map((e) => ({ position: lines.position(e.pos[0]), message: e.message.split('\n')[0]! }));
    const more = doc.errors.length - errors.length;
    if (more > 0) errors[errors.length - 1]!.message += ` (and ${more} more syntax errors after it)`;
    return { ok: false, doc, lines, errors };
  }
  try {
    return { ok: true, doc, lines, value: doc.toJS({ maxAliasCount: 100 }) as unknown };
  } catch (err) {
    let offset = 0;
    visit(doc, { Alias(_key, node) { if (node.resolve(doc) === undefined) { offset = node.range?.[0] ?? 0; return visit.BREAK; } return undefined; } });
    return { ok: false, doc, lines, errors: [{ position: lines.position(offset), message: (err as Error).message.split('\n')[0]! }] };
  }
}

/** The node at `path`, or the deepest ancestor that exists, and whether the key itself was found. */
function nodeAt(doc: Document, path: KeyPath, pointAtKey: boolean): Node | undefined {
  let node: unknown = doc.contents;
  let found: Node | undefined = doc.contents ?? undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) return found;
      const last = i === path.length - 1;
      if (last && pointAtKey && isScalar(pair.key)) return pair.key;
      // A key with no value node (`{ prod }`, `name:`): the key is the place to point at.
      if (!(pair.value && typeof pair.value === 'object' && 'range' in pair.value) && isScalar(pair.key)) return pair.key;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
    } else {
      return found;
    }
    if (node && typeof node === 'object' && 'range' in node) found = node as Node;
  }
  return found;
}

export function positionOf(doc: Document, lines: LineIndex, path: KeyPath, pointAtKey = false): Position {
  const node = nodeAt(doc, path, pointAtKey);
  const offset = node?.range?.[0] ?? 0;
  return lines.position(offset);
}

export function formatPath(path: KeyPath): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out || '(root)';
}
