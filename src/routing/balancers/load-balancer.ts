/**
 * The one interface every load balancer implements (SPEC §4 `loadBalancer`).
 *
 * A balancer only *chooses*: the caller passes the endpoints that are eligible right now (health
 * checks, outlier ejection and subset selection are applied outside, before `pick`), and reports
 * back what happened so the load-aware kinds can learn. The intended call sequence per try is:
 *
 * ```ts
 * const ctx = { exclude: triedAddresses, hashKey: stickyKey };   // one object per request
 * const ep = balancer.pick(eligible, ctx);                        // undefined → 503 UH
 * balancer.onRequestStart(ep.address);
 * // … forward …
 * balancer.onRequestEnd(ep.address, latencyMs, success);         // exactly once per start
 * triedAddresses.add(ep.address);                                 // so a retry prefers a new one
 * ```
 *
 * Ownership: create one balancer per (upstream, subset) — a round-robin cursor shared by two
 * subsets would interleave badly — and give the balancers of one upstream one shared `LoadTracker`
 * (option `tracker`), so an endpoint's in-flight count and latency are the same whichever subset
 * sent the request. Keep both across reloads while the upstream is unchanged.
 */

export type LoadBalancerKind = 'round-robin' | 'random' | 'least-request' | 'ewma' | 'ring-hash' | 'maglev';

/** The kinds that map a hash key to an endpoint (sticky sessions need one of these). */
export const CONSISTENT_HASH_KINDS: ReadonlySet<LoadBalancerKind> = new Set(['ring-hash', 'maglev']);

/** Anything with an address: endpoints are identified by `address` (`host:port`). */
export interface BalancerEndpoint {
  readonly address: string;
}

export interface PickContext {
  /**
   * Addresses this request already tried. A balancer returns an endpoint outside the set whenever
   * the list has one; only when every eligible endpoint was tried does it return a tried one (a
   * retry still goes somewhere rather than failing).
   */
  readonly exclude?: ReadonlySet<string> | undefined;
  /**
   * Consistent-hash key (a sticky key, or any request attribute): `ring-hash` and `maglev` map the
   * same key to the same endpoint while the eligible set is unchanged, and without one they pick at
   * random. The other kinds ignore it.
   */
  readonly hashKey?: string | undefined;
}

export interface LoadBalancer {
  readonly kind: LoadBalancerKind;
  /**
   * Chooses one of `endpoints` (never anything else); undefined only when the list is empty.
   * `endpoints` is read, never kept beyond the call except as a cache key: do not mutate an array
   * after passing it (pass a new array when membership changes; passing a new array with the same
   * members is fine and cheap). The order of the list does not matter to the consistent-hash kinds.
   */
  pick<E extends BalancerEndpoint>(endpoints: readonly E[], context?: PickContext): E | undefined;
  /** A request to `address` was sent (in-flight count +1). */
  onRequestStart(address: string): void;
  /**
   * That request finished: `latencyMs` from start to response headers (or failure), `success`
   * false for 5xx, resets, timeouts and connect failures. Call exactly once per `onRequestStart`.
   */
  onRequestEnd(address: string, latencyMs: number, success: boolean): void;
}
