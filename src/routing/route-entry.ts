/**
 * One route compiled for matching: its host key, path matcher, conditions and the facts the
 * precedence order of SPEC §5 compares (match type, priority, prefix length, condition count, file
 * order). `compareEntries` is that order; every index, `explain` and `validate` share it, so the
 * winner is the same whichever of them computes it.
 */
import type { Direction, RoutePolicy } from '../config/index.js';
import { headerCondition, jsonBodyCondition, methodCondition, queryCondition, type Condition, type MatchInput, type QueryScratch } from './conditions.js';
import { compileRegex } from './regex.js';
import { literalPrefixes } from './regex-prefixes.js';

export type MatchType = 'exact' | 'prefix' | 'regex';
export type HostKind = 'exact' | 'wildcard' | 'any';

export interface RouteEntry<T> {
  readonly value: T;
  readonly name: string;
  /** Position in the policy's `routes` (file order). */
  readonly index: number;
  readonly direction: Direction;
  readonly hostKind: HostKind;
  /** Lower-case host for `exact`, the suffix with its dot (".example.com") for `wildcard`, '' for `any`. */
  readonly hostKey: string;
  readonly matchType: MatchType;
  /** 0 exact, 1 prefix, 2 regex: lower wins. */
  readonly rank: number;
  readonly priority: number;
  /** Length of the path prefix (prefix routes; a route without path is prefix "/"), else 0. */
  readonly prefixLength: number;
  /** Host (unless `*`), method, and each header, query and jsonBody condition count one. */
  readonly conditionCount: number;
  /** Exact path, prefix, or regex source. */
  readonly pathValue: string;
  /** Regex routes: the compiled full-match regex. */
  readonly regex: RegExp | undefined;
  /** Trie keys: the prefix; for regex routes the literal heads one of which every match starts with. */
  readonly trieKeys: readonly string[];
  readonly conditions: readonly Condition[];
  readonly hasJson: boolean;
}

const RANK: Record<MatchType, number> = { exact: 0, prefix: 1, regex: 2 };

/** SPEC §5 precedence inside one host bucket: negative when `a` wins over `b`. */
export function compareEntries<T>(a: RouteEntry<T>, b: RouteEntry<T>): number {
  return a.rank - b.rank || b.priority - a.priority || b.prefixLength - a.prefixLength
    || b.conditionCount - a.conditionCount || a.index - b.index;
}

/** Normalises a policy host: lower case, port dropped, `*` and absent meaning any host. */
export function hostKeyOf(host: string | undefined): { kind: HostKind; key: string } {
  if (host === undefined || host === '*') return { kind: 'any', key: '' };
  let h = host.toLowerCase();
  const colon = h.lastIndexOf(':');
  if (colon > 0 && !h.endsWith(']') && /^\d+$/.test(h.slice(colon + 1))) h = h.slice(0, colon);
  if (h.startsWith('*.')) return { kind: 'wildcard', key: h.slice(1) };
  return { kind: 'exact', key: h };
}

export function compileEntry<T>(policy: RoutePolicy, value: T, index: number): RouteEntry<T> {
  const m = policy.match;
  const conditions: Condition[] = [];
  if (m.method) conditions.push(methodCondition(m.method));
  for (const [name, cond] of Object.entries(m.headers ?? {})) conditions.push(headerCondition(name, cond));
  for (const [name, cond] of Object.entries(m.query ?? {})) conditions.push(queryCondition(name, cond));
  let hasJson = false;
  for (const [path, cond] of Object.entries(m.jsonBody ?? {})) { conditions.push(jsonBodyCondition(path, cond)); hasJson = true; }
  const host = hostKeyOf(m.host);

  let matchType: MatchType = 'prefix';
  let pathValue = '/';
  let regex: RegExp | undefined;
  let trieKeys = ['/'];
  if (m.path && 'exact' in m.path) { matchType = 'exact'; pathValue = m.path.exact; trieKeys = [pathValue]; }
  else if (m.path && 'prefix' in m.path) { pathValue = m.path.prefix; trieKeys = [pathValue]; }
  else if (m.path) {
    matchType = 'regex';
    pathValue = m.path.regex;
    const r = compileRegex(pathValue);
    if (!r.ok) throw new Error(`route ${policy.name}: regex ${JSON.stringify(pathValue)}: ${r.error}`);
    regex = r.regex;
    trieKeys = literalPrefixes(pathValue);
  }
  return {
    value, name: policy.name, index, direction: policy.direction,
    hostKind: host.kind, hostKey: host.key,
    matchType, rank: RANK[matchType], priority: policy.priority,
    prefixLength: matchType === 'prefix' ? pathValue.length : 0,
    conditionCount: conditions.length + (host.kind === 'any' ? 0 : 1),
    pathValue, regex, trieKeys, conditions, hasJson,
  };
}

/**
 * Whether every condition holds (the path is the caller's business: the index already matched it).
 * With `assumeJson`, jsonBody conditions count as holding — how `needsBodyFor` asks "could the body
 * change the decision?".
 */
export function conditionsHold<T>(e: RouteEntry<T>, input: MatchInput, query: QueryScratch, assumeJson: boolean): boolean {
  const cs = e.conditions;
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    if (assumeJson && c.kind === 'jsonBody') continue;
    if (!c.test(input, query)) return false;
  }
  return true;
}

/** Whether the entry's path condition holds for `path` (used outside the indexes: explain, tests). */
export function pathHolds<T>(e: RouteEntry<T>, path: string): boolean {
  if (e.matchType === 'exact') return path === e.pathValue;
  if (e.matchType === 'prefix') return path.startsWith(e.pathValue);
  return e.regex!.test(path);
}
