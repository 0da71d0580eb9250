/**
 * Route selection (SPEC §5), compiled once per snapshot. Pure: no I/O, no proxy or telemetry imports.
 *
 * Among the routes of a direction whose every condition matches, the winner is the first by match
 * type (exact > prefix > regex), then higher priority, then longer prefix, then more conditions, then
 * file order. Routes are bucketed by host — an exact host beats `*.suffix` wildcards (longest suffix
 * first), which beat routes without a host — and the first bucket with a matching route decides.
 * Inside a bucket a `PathIndex` finds the winner without scanning unrelated routes.
 */
import type { Direction, RoutePolicy } from '../config/index.js';
import { QueryScratch, type MatchInput } from './conditions.js';
import { buildExplanation, type RouteExplanation } from './explain.js';
import { PathIndex } from './path-index.js';
import { compileEntry, type RouteEntry } from './route-entry.js';

export type { MatchInput } from './conditions.js';

export interface Router<T> {
  /** The winning route's value, or undefined when no route of `direction` matches. */
  match(direction: Direction, input: MatchInput): T | undefined;
  /**
   * Whether any route that could serve `host` in `direction` has jsonBody conditions. False means
   * the body can never matter for this host: do not buffer it.
   */
  needsBody(direction: Direction, host: string): boolean;
  /**
   * Finer: whether the decision for this request (path, method, headers, query — `json` ignored)
   * could depend on its body. It assumes every jsonBody condition holds; if the route that would
   * then win has none, no body can change the winner. Buffer (≤ 64 KiB, JSON only) only when true.
   */
  needsBodyFor(direction: Direction, input: MatchInput): boolean;
  /** Every route considered, why it matched or not, and the winner (see `explainRoutes`). */
  explain(direction: Direction, input: MatchInput): RouteExplanation<T>;
}

interface DirectionTable<T> {
  readonly exact: Map<string, PathIndex<T>>;
  /** By suffix with its leading dot (".example.com"). */
  readonly wildcard: Map<string, PathIndex<T>>;
  readonly any: PathIndex<T> | undefined;
  readonly entries: readonly RouteEntry<T>[];
  /** Whether any route of the direction has jsonBody conditions (the common answer: no). */
  readonly hasJson: boolean;
}

/**
 * Compiles the routes of a policy (in file order; `value` is what `match` returns for a route) into
 * a router. Done once per snapshot, aside from traffic; throws — naming the route — on a regex the
 * linear engine rejects (`validate` reports those first). The router keeps scratch state for its
 * decisions: use it from one thread (as Node does), never from inside one of its own decisions.
 */
export function compileRouter<T>(routes: ReadonlyArray<{ readonly policy: RoutePolicy; readonly value: T }>): Router<T> {
  const byDirection: Record<Direction, RouteEntry<T>[]> = { outbound: [], inbound: [] };
  routes.forEach(({ policy, value }, index) => byDirection[policy.direction].push(compileEntry(policy, value, index)));
  const tables: Record<Direction, DirectionTable<T>> = {
    outbound: buildTable(byDirection.outbound),
    inbound: buildTable(byDirection.inbound),
  };
  return new CompiledRouter(tables);
}

/**
 * The router as a class: its methods are the same functions for every snapshot's router, so the
 * request path's calls into a new snapshot find the targets they were optimized for — closures made
 * per router were new call targets after each flip, and V8 threw away the optimized request path
 * ("wrong call target") on the first one.
 */
class CompiledRouter<T> implements Router<T> {
  private readonly query = new QueryScratch();

  constructor(private readonly tables: Readonly<Record<Direction, DirectionTable<T>>>) {}

  match(direction: Direction, input: MatchInput): T | undefined {
    return this.decide(direction, input, false)?.value;
  }

  needsBodyFor(direction: Direction, input: MatchInput): boolean {
    return this.decide(direction, input, true)?.hasJson ?? false;
  }

  needsBody(direction: Direction, host: string): boolean {
    const t = this.tables[direction];
    if (!t.hasJson) return false;
    const h = host.toLowerCase();
    if (t.exact.get(h)?.hasJson || t.any?.hasJson) return true;
    for (let dot = h.indexOf('.'); dot >= 0; dot = h.indexOf('.', dot + 1)) {
      if (t.wildcard.get(h.slice(dot))?.hasJson) return true;
    }
    return false;
  }

  explain(direction: Direction, input: MatchInput): RouteExplanation<T> {
    const t = this.tables[direction];
    const query = this.query;
    query.reset(input.query);
    const buckets = applicableBuckets(t, input.host.toLowerCase());
    const seen = new Set<RouteEntry<T>>();
    for (const b of buckets) for (const e of b.all) seen.add(e);
    const others = t.entries.filter((e) => !seen.has(e));
    return buildExplanation(direction, input, query, buckets.map((b) => b.all), others);
  }

  private decide(direction: Direction, input: MatchInput, assumeJson: boolean): RouteEntry<T> | undefined {
    const t = this.tables[direction];
    const query = this.query;
    const host = input.host.toLowerCase();
    query.reset(input.query);
    const exact = t.exact.get(host);
    if (exact !== undefined) { const hit = exact.match(input, query, assumeJson); if (hit) return hit; }
    if (t.wildcard.size > 0) {
      for (let dot = host.indexOf('.'); dot >= 0; dot = host.indexOf('.', dot + 1)) {
        const w = t.wildcard.get(host.slice(dot));
        if (w !== undefined) { const hit = w.match(input, query, assumeJson); if (hit) return hit; }
      }
    }
    return t.any?.match(input, query, assumeJson);
  }
}

/** `explain` as a function: the data for `pilotfish explain` and admin `/explain`. */
export function explainRoutes<T>(router: Router<T>, direction: Direction, input: MatchInput): RouteExplanation<T> {
  return router.explain(direction, input);
}

function buildTable<T>(entries: readonly RouteEntry<T>[]): DirectionTable<T> {
  const groups = { exact: new Map<string, RouteEntry<T>[]>(), wildcard: new Map<string, RouteEntry<T>[]>() };
  const any: RouteEntry<T>[] = [];
  for (const e of entries) {
    if (e.hostKind === 'any') { any.push(e); continue; }
    const map = groups[e.hostKind];
    const list = map.get(e.hostKey);
    if (list) list.push(e); else map.set(e.hostKey, [e]);
  }
  const index = (m: Map<string, RouteEntry<T>[]>): Map<string, PathIndex<T>> =>
    new Map([...m].map(([k, list]) => [k, new PathIndex(list)]));
  return {
    exact: index(groups.exact),
    wildcard: index(groups.wildcard),
    any: any.length > 0 ? new PathIndex(any) : undefined,
    entries,
    hasJson: entries.some((e) => e.hasJson),
  };
}

/** The buckets a request for `host` goes through, in order (exact, wildcards longest first, any). */
function applicableBuckets<T>(t: DirectionTable<T>, host: string): PathIndex<T>[] {
  const out: PathIndex<T>[] = [];
  const exact = t.exact.get(host);
  if (exact) out.push(exact);
  for (let dot = host.indexOf('.'); dot >= 0; dot = host.indexOf('.', dot + 1)) {
    const w = t.wildcard.get(host.slice(dot));
    if (w) out.push(w);
  }
  if (t.any) out.push(t.any);
  return out;
}
