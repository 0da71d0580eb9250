/**
 * `explain`: the data behind `pilotfish explain` and admin `/explain` (the CLI and admin render it).
 * Every route of the request's direction is listed in the order the router considers it — the host
 * buckets that apply (exact host, then wildcards longest suffix first, then routes without a host),
 * each in precedence order, then the routes whose host does not apply — with why it matched or which
 * check failed first. Computed by a plain full scan, separately from the fast indexes; the tests
 * check both always agree on the winner.
 */
import type { Direction } from '../config/index.js';
import type { ConditionKind, MatchInput, QueryScratch } from './conditions.js';
import { pathHolds, type HostKind, type MatchType, type RouteEntry } from './route-entry.js';

export interface RouteCheckFailure {
  /** Which check failed: the host, the path, or a condition kind. */
  readonly check: 'host' | 'path' | ConditionKind;
  /** The condition as written, e.g. `header x-canary exact "true"`. */
  readonly condition: string;
  /** The request's value (undefined: absent). */
  readonly actual: string | undefined;
}

export interface RouteVerdict {
  readonly name: string;
  /** Position in the policy's `routes`. */
  readonly index: number;
  /**
   * `winner`: the route chosen; `matched`: every check held but an earlier route won;
   * `no-match`: see `failed`.
   */
  readonly outcome: 'winner' | 'matched' | 'no-match';
  readonly failed?: RouteCheckFailure;
  /** Precedence facts, in the order they are compared (after the host bucket). */
  readonly host: HostKind;
  readonly matchType: MatchType;
  readonly priority: number;
  readonly prefixLength: number;
  readonly conditionCount: number;
}

export interface RouteExplanation<T> {
  readonly direction: Direction;
  /** Every route of the direction, in the order considered. */
  readonly considered: readonly RouteVerdict[];
  /** The chosen route (its value is what `match` returns), or undefined: no route. */
  readonly winner?: { readonly name: string; readonly index: number; readonly value: T };
}

/**
 * Builds the explanation from the applicable buckets' entries (each in precedence order, buckets in
 * host order) and the entries of the direction whose host does not apply.
 */
export function buildExplanation<T>(
  direction: Direction,
  input: MatchInput,
  query: QueryScratch,
  applicable: ReadonlyArray<readonly RouteEntry<T>[]>,
  others: readonly RouteEntry<T>[],
): RouteExplanation<T> {
  const considered: RouteVerdict[] = [];
  let winner: RouteEntry<T> | undefined;
  for (const bucket of applicable) {
    for (const e of bucket) {
      const failed = firstFailure(e, input, query);
      const outcome = failed ? 'no-match' : winner ? 'matched' : 'winner';
      if (outcome === 'winner') winner = e;
      considered.push(verdict(e, outcome, failed));
    }
  }
  for (const e of others) {
    const pattern = e.hostKind === 'wildcard' ? `*${e.hostKey}` : e.hostKey;
    considered.push(verdict(e, 'no-match', { check: 'host', condition: `host ${JSON.stringify(pattern)}`, actual: input.host }));
  }
  return winner
    ? { direction, considered, winner: { name: winner.name, index: winner.index, value: winner.value } }
    : { direction, considered };
}

function firstFailure<T>(e: RouteEntry<T>, input: MatchInput, query: QueryScratch): RouteCheckFailure | undefined {
  if (!pathHolds(e, input.path)) {
    return { check: 'path', condition: `path ${e.matchType} ${JSON.stringify(e.pathValue)}`, actual: input.path };
  }
  for (const c of e.conditions) {
    if (!c.test(input, query)) {
      const note = c.kind === 'jsonBody' && input.json === undefined ? ' (no JSON body buffered)' : '';
      return { check: c.kind, condition: c.label + note, actual: c.observe(input, query) };
    }
  }
  return undefined;
}

function verdict<T>(e: RouteEntry<T>, outcome: RouteVerdict['outcome'], failed: RouteCheckFailure | undefined): RouteVerdict {
  const base = {
    name: e.name, index: e.index, outcome,
    host: e.hostKind, matchType: e.matchType, priority: e.priority, prefixLength: e.prefixLength, conditionCount: e.conditionCount,
  };
  return failed ? { ...base, failed } : base;
}
