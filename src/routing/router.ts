/**
 * Route selection (SPEC §5), compiled once per snapshot. Pure: no I/O, no proxy or telemetry imports.
 *
 * Among the routes of a direction whose every condition matches, the winner is the first by match
 * type (exact > prefix > regex), then higher priority, then longer prefix, then more conditions, then
 * file order. Routes are bucketed by host — an exact host beats `*.suffix` wildcards, which beat
 * routes without a host — and each bucket is pre-sorted by that order, so the first route in a bucket
 * whose conditions all hold is the winner and the scan stops there.
 */
import type { Direction, RoutePolicy } from '../config/index.js';
import { compileRegex } from './regex.js';
import { headerCondition, methodCondition, queryCondition, type Condition, type MatchInput } from './conditions.js';

export type { MatchInput } from './conditions.js';

interface Entry<T> {
  readonly value: T;
  readonly rank: number;
  readonly priority: number;
  readonly prefixLength: number;
  readonly conditionCount: number;
  readonly order: number;
  readonly path: (path: string) => boolean;
  readonly conditions: readonly Condition[];
}

interface DirectionTable<T> {
  readonly exact: Map<string, Entry<T>[]>;
  /** Wildcard suffixes (".example.com"), longest first. */
  readonly wildcards: Array<{ suffix: string; entries: Entry<T>[] }>;
  readonly anyHost: Entry<T>[];
}

export interface Router<T> {
  match(direction: Direction, input: MatchInput): T | undefined;
}

const RANK = { exact: 0, prefix: 1, regex: 2 } as const;

export function compileRouter<T>(routes: ReadonlyArray<{ policy: RoutePolicy; value: T }>): Router<T> {
  const tables: Record<Direction, DirectionTable<T>> = {
    outbound: { exact: new Map(), wildcards: [], anyHost: [] },
    inbound: { exact: new Map(), wildcards: [], anyHost: [] },
  };
  routes.forEach(({ policy, value }, order) => {
    const table = tables[policy.direction];
    const entry = compileEntry(policy, value, order);
    const host = policy.match.host?.toLowerCase();
    if (host === undefined || host === '*') table.anyHost.push(entry);
    else if (host.startsWith('*.')) {
      const suffix = host.slice(1);
      let w = table.wildcards.find((x) => x.suffix === suffix);
      if (!w) table.wildcards.push((w = { suffix, entries: [] }));
      w.entries.push(entry);
    } else {
      const list = table.exact.get(host) ?? [];
      list.push(entry);
      table.exact.set(host, list);
    }
  });
  for (const table of Object.values(tables)) {
    for (const list of table.exact.values()) list.sort(byPrecedence);
    for (const w of table.wildcards) w.entries.sort(byPrecedence);
    table.wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
    table.anyHost.sort(byPrecedence);
  }
  return {
    match(direction, input) {
      const table = tables[direction];
      let params: URLSearchParams | undefined;
      const query = (): URLSearchParams => (params ??= new URLSearchParams(input.query));
      const exact = table.exact.get(input.host);
      if (exact) { const hit = firstMatch(exact, input, query); if (hit) return hit.value; }
      for (const w of table.wildcards) {
        if (input.host.endsWith(w.suffix)) { const hit = firstMatch(w.entries, input, query); if (hit) return hit.value; }
      }
      return firstMatch(table.anyHost, input, query)?.value;
    },
  };
}

function firstMatch<T>(entries: readonly Entry<T>[], input: MatchInput, query: () => URLSearchParams): Entry<T> | undefined {
  outer: for (const e of entries) {
    if (!e.path(input.path)) continue;
    for (const c of e.conditions) if (!c(input, query)) continue outer;
    return e;
  }
  return undefined;
}

function byPrecedence<T>(a: Entry<T>, b: Entry<T>): number {
  return a.rank - b.rank || b.priority - a.priority || b.prefixLength - a.prefixLength
    || b.conditionCount - a.conditionCount || a.order - b.order;
}

function compileEntry<T>(policy: RoutePolicy, value: T, order: number): Entry<T> {
  const m = policy.match;
  const conditions: Condition[] = [];
  if (m.method) conditions.push(methodCondition(m.method));
  for (const [name, cond] of Object.entries(m.headers ?? {})) conditions.push(headerCondition(name, cond));
  for (const [name, cond] of Object.entries(m.query ?? {})) conditions.push(queryCondition(name, cond));
  // jsonBody conditions need the buffered body (routing issue); until then such a route never matches.
  if (m.jsonBody && Object.keys(m.jsonBody).length > 0) conditions.push(() => false);
  // A route without a path condition is a prefix match on "/".
  let path: (p: string) => boolean = () => true;
  let rank: number = RANK.prefix;
  let prefixLength = 1;
  if (m.path && 'exact' in m.path) { const want = m.path.exact; path = (p) => p === want; rank = RANK.exact; }
  else if (m.path && 'prefix' in m.path) {
    const want = m.path.prefix;
    path = want === '/' ? () => true : (p) => p.startsWith(want);
    rank = RANK.prefix;
    prefixLength = want.length;
  } else if (m.path) {
    const r = compileRegex(m.path.regex);
    if (!r.ok) throw new Error(`route ${policy.name}: ${r.error}`);
    const re = r.regex;
    path = (p) => re.test(p);
    rank = RANK.regex;
  }
  const conditionCount = conditions.length + (m.host ? 1 : 0);
  return { value, rank, priority: policy.priority, prefixLength, conditionCount, order, path, conditions };
}
