/**
 * Literal heads of regexes: strings one of which every full match must start with. The router files
 * a regex route in the prefix trie under each of them, so a request only runs the regexes whose head
 * its path has (`/api/v[0-9]+/.*` under "/api/v"; `/(users|orders)/.*` under "/users/" and
 * "/orders/"), and `validate` uses their common prefix to prove a prefix route covers a regex route.
 *
 * Conservative by construction — a head may be shorter than the truth, never wrong:
 * - plain characters are taken up to the first metacharacter; one followed by a quantifier is
 *   dropped (`ab?` may match "a");
 * - a top-level `|` splits into alternatives, each analysed alone;
 * - a group (capturing or `(?:`) not followed by a quantifier continues the head with each of its own
 *   heads, and the analysis stops after it;
 * - anything else (classes, escapes, `.`, anchors, other group kinds) ends the head;
 * - more than `MAX_HEADS` alternatives collapse to their common prefix.
 */

const META = new Set('\\^$.|?*+()[]{}');
const QUANTIFIERS = new Set('?*+{');
/** More alternatives than this are not worth separate trie entries. */
const MAX_HEADS = 16;

/** The heads of `source`, minimal: none is a prefix of another (so a path reaches at most one). */
export function literalPrefixes(source: string): string[] {
  return minimal(heads(source, 0));
}

/** The longest string every full match of `source` starts with. */
export function literalPrefix(source: string): string {
  return commonPrefix(heads(source, 0));
}

function heads(source: string, depth: number): string[] {
  if (depth > 8) return [''];
  const alternatives = splitTopLevel(source);
  if (alternatives.length > 1) return cap(alternatives.flatMap((a) => heads(a, depth + 1)));
  let end = 0;
  while (end < source.length && !META.has(source[end]!)) end++;
  const head = source.slice(0, end);
  const next = source[end];
  if (next !== undefined && QUANTIFIERS.has(next)) return [head.slice(0, -1)];
  if (next !== '(') return [head];
  const close = groupEnd(source, end);
  if (close < 0) return [head];
  const after = source[close + 1];
  if (after !== undefined && QUANTIFIERS.has(after)) return [head];
  let inner = source.slice(end + 1, close);
  if (inner.startsWith('?:')) inner = inner.slice(2);
  else if (inner.startsWith('?')) return [head]; // lookaround or named group: not worth the risk
  return cap(heads(inner, depth + 1).map((h) => head + h));
}

function cap(list: string[]): string[] {
  const unique = [...new Set(list)];
  return unique.length > MAX_HEADS ? [commonPrefix(unique)] : unique;
}

function minimal(list: string[]): string[] {
  const sorted = [...new Set(list)].sort((a, b) => a.length - b.length);
  const kept: string[] = [];
  for (const h of sorted) if (!kept.some((k) => h.startsWith(k))) kept.push(h);
  return kept;
}

function commonPrefix(list: readonly string[]): string {
  if (list.length === 0) return '';
  let p = list[0]!;
  for (const s of list) while (!s.startsWith(p)) p = p.slice(0, -1);
  return p;
}

/** Index after a character class starting at `open` (`[`): `[]` and `[^]` are complete classes. */
function classEnd(source: string, open: number): number {
  let i = open + 1;
  if (source[i] === '^') i++;
  if (source[i] === ']') return i + 1;
  while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1;
  return i + 1;
}

/** The index of the `)` closing the group opened at `open`, or -1. */
function groupEnd(source: string, open: number): number {
  let depth = 0;
  for (let i = open; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') { i++; continue; }
    if (c === '[') { i = classEnd(source, i) - 1; continue; }
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

/** `source` split at its top-level `|` (outside groups and classes). */
function splitTopLevel(source: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') { i++; continue; }
    if (c === '[') { i = classEnd(source, i) - 1; continue; }
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) { parts.push(source.slice(start, i)); start = i + 1; }
  }
  parts.push(source.slice(start));
  return parts;
}
