/**
 * Shadow analysis for `pilotfish validate`: routes that can never win because another route matches
 * every request they match and comes first in the precedence order. Only certain shadowing is
 * reported — a warning that cries wolf teaches people to ignore warnings:
 *
 * - both routes have the same direction and the same host pattern (different patterns sit in
 *   different host buckets, and the more specific bucket is tried first);
 * - the shadowing route's path provably covers the other's: the same exact path, a prefix of its
 *   prefix, a prefix of the literal head of its regex, or the identical regex;
 * - each of its conditions is implied by one of the other's (`stringMatchImplies`), and its methods
 *   include all of the other's;
 * - it precedes the other by `compareEntries`, the order the router itself uses.
 */
import type { RoutePolicy, StringMatchPolicy } from '../config/index.js';
import { compareEntries, compileEntry, type RouteEntry } from './route-entry.js';
import { literalPrefix } from './regex-prefixes.js';
import { stringMatchImplies } from './string-match.js';

export interface ShadowWarning {
  /** The route that can never win: `routes[index]`. */
  readonly index: number;
  readonly name: string;
  /** The earlier winner that covers it. */
  readonly shadowedBy: { readonly index: number; readonly name: string };
  readonly message: string;
}

type Entry = RouteEntry<RoutePolicy>;

interface Group {
  readonly exact: Map<string, Entry[]>;
  readonly prefix: Map<string, Entry[]>;
  readonly regex: Map<string, Entry[]>;
}

export function findShadowedRoutes(routes: readonly RoutePolicy[]): ShadowWarning[] {
  const groups = new Map<string, Group>();
  const entries: Entry[] = [];
  routes.forEach((policy, index) => {
    let e: Entry;
    try { e = compileEntry(policy, policy, index); } catch { return; } // bad regexes are reported elsewhere
    entries.push(e);
    const key = `${e.direction}\u0000${e.hostKind}\u0000${e.hostKey}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { exact: new Map(), prefix: new Map(), regex: new Map() }));
    const map = g[e.matchType];
    const list = map.get(e.pathValue);
    if (list) list.push(e); else map.set(e.pathValue, [e]);
  });
  const warnings: ShadowWarning[] = [];
  for (const b of entries) {
    const g = groups.get(`${b.direction}\u0000${b.hostKind}\u0000${b.hostKey}`)!;
    const a = candidates(g, b).filter((x) => x !== b && compareEntries(x, b) < 0 && covers(x.value, b.value)).sort(compareEntries)[0];
    if (a) {
      warnings.push({
        index: b.index, name: b.name, shadowedBy: { index: a.index, name: a.name },
        message: `route "${b.name}" can never win: route "${a.name}" (routes[${a.index}]) matches every request it matches and takes precedence (${why(a, b)})`,
      });
    }
  }
  return warnings;
}

/** Routes whose path provably matches every path `b` matches (precedence not yet checked). */
function candidates(g: Group, b: Entry): Entry[] {
  if (b.matchType === 'exact') return g.exact.get(b.pathValue) ?? [];
  const out: Entry[] = [];
  // Every path `b` matches starts with `head`; any prefix route on a prefix of `head` covers it.
  const head = b.matchType === 'prefix' ? b.pathValue : literalPrefix(b.pathValue);
  for (let len = 1; len <= head.length; len++) out.push(...(g.prefix.get(head.slice(0, len)) ?? []));
  if (b.matchType === 'regex') out.push(...(g.regex.get(b.pathValue) ?? []));
  return out;
}

/** Whether every request meeting `b`'s conditions meets `a`'s (paths and hosts aside). */
function covers(a: RoutePolicy, b: RoutePolicy): boolean {
  const am = a.match;
  const bm = b.match;
  if (am.method && !(bm.method && bm.method.every((m) => am.method!.includes(m)))) return false;
  return implied(am.headers, bm.headers, true) && implied(am.query, bm.query, false) && implied(am.jsonBody, bm.jsonBody, false);
}

type Conditions = Readonly<Record<string, StringMatchPolicy>> | undefined;

function implied(a: Conditions, b: Conditions, caseless: boolean): boolean {
  if (!a) return true;
  const norm = (k: string): string => (caseless ? k.toLowerCase() : k);
  const byKey = new Map<string, StringMatchPolicy[]>();
  for (const [k, m] of Object.entries(b ?? {})) {
    const list = byKey.get(norm(k));
    if (list) list.push(m); else byKey.set(norm(k), [m]);
  }
  return Object.entries(a).every(([k, ma]) => (byKey.get(norm(k)) ?? []).some((mb) => stringMatchImplies(mb, ma)));
}

function why(a: Entry, b: Entry): string {
  if (a.rank < b.rank) return `${a.matchType} paths win over ${b.matchType} paths`;
  if (a.priority > b.priority) return `priority ${a.priority} > ${b.priority}`;
  if (a.prefixLength > b.prefixLength) return 'longer prefix';
  if (a.conditionCount > b.conditionCount) return 'more conditions';
  return 'equal precedence, earlier in the file';
}
