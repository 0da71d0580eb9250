/**
 * Small edits on a parsed YAML document that keep everything around them: comments, key order,
 * quoting. New keys go where a person would put them (metadata first, initContainers before
 * containers); a key that is present but null (`annotations:`) is filled in place.
 */
import { isMap, isScalar, isSeq, type Document, type Node, type YAMLMap, type YAMLSeq } from 'yaml';

/** A node that is not the shape Kubernetes requires; carries the node for its line:col. */
export class EditError extends Error {
  constructor(message: string, readonly node: Node | undefined) {
    super(message);
    this.name = 'EditError';
  }
}

/** The map at `parent[key]`, or undefined when absent or null. */
export function mapAt(parent: YAMLMap | undefined, key: string): YAMLMap | undefined {
  const v = parent?.get(key, true);
  return isMap(v) ? v : undefined;
}

function isNullish(v: unknown): boolean {
  return v === undefined || v === null || (isScalar(v) && v.value === null);
}

function insert(doc: Document, parent: YAMLMap, key: string, value: Node, before: string | number | undefined): void {
  const pair = doc.createPair(key, value);
  const existing = parent.items.findIndex((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
  if (existing >= 0) { parent.items[existing]!.value = value; return; }
  const at = typeof before === 'number'
    ? before
    : parent.items.findIndex((p) => (isScalar(p.key) ? p.key.value : p.key) === before);
  if (at >= 0) parent.items.splice(at, 0, pair);
  else parent.items.push(pair);
}

/** `parent[key]` as a map, created (at `before`: a key or an index) when absent or null. */
export function ensureMap(doc: Document, parent: YAMLMap, key: string, before?: string | number): YAMLMap {
  const v = parent.get(key, true);
  if (isMap(v)) return v;
  if (!isNullish(v)) throw new EditError(`${key} must be a map`, v as Node);
  const created = doc.createNode({}) as YAMLMap;
  insert(doc, parent, key, created, before);
  return created;
}

/** `parent[key]` as a sequence, created (at `before`) when absent or null. */
export function ensureSeq(doc: Document, parent: YAMLMap, key: string, before?: string | number): YAMLSeq {
  const v = parent.get(key, true);
  if (isSeq(v)) return v;
  if (!isNullish(v)) throw new EditError(`${key} must be a list`, v as Node);
  const created = doc.createNode([]) as YAMLSeq;
  insert(doc, parent, key, created, before);
  return created;
}

/** Sets `map[key]` unless the user already set it: their value wins. */
export function setIfAbsent(doc: Document, map: YAMLMap, key: string, value: string): void {
  if (!map.has(key)) map.add(doc.createPair(key, value));
}

/** The `name` of each map in a sequence (containers, volumes). */
export function names(seq: unknown): string[] {
  if (!isSeq(seq)) return [];
  return seq.items.flatMap((item) => {
    const name = isMap(item) ? item.get('name') : undefined;
    return typeof name === 'string' ? [name] : [];
  });
}

/** A map's scalar entries as strings (YAML 1.1 reads an unquoted `false` as a boolean). */
export function stringEntries(map: YAMLMap | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of map?.items ?? []) {
    const key = isScalar(pair.key) ? pair.key.value : pair.key;
    const value = isScalar(pair.value) ? pair.value.value : undefined;
    if (typeof key === 'string' && value !== undefined && value !== null) out.set(key, String(value));
  }
  return out;
}
