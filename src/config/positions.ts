/**
 * Maps a key path in the parsed document back to a line and column, so every error names the place
 * in the user's file (`file:line:col key.path: message`), as the YAML parser saw it.
 */
import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

export type KeyPath = ReadonlyArray<string | number>;

export interface Position { line: number; col: number }

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

export function positionOf(doc: Document, lines: LineCounter, path: KeyPath, pointAtKey = false): Position {
  const node = nodeAt(doc, path, pointAtKey);
  const offset = node?.range?.[0] ?? 0;
  return lines.linePos(offset);
}

export function formatPath(path: KeyPath): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out || '(root)';
}
