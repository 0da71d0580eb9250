/**
 * Random choice among the endpoints not excluded (already tried by this request). Without exclusions
 * this is one multiplication; with them, one scan to count and one to find — retries only.
 */
import type { BalancerEndpoint } from './load-balancer.js';

/** How many of `endpoints` are not in `exclude` (all of them when `exclude` is empty). */
export function countAllowed(endpoints: readonly BalancerEndpoint[], exclude: ReadonlySet<string> | undefined): number {
  if (exclude === undefined || exclude.size === 0) return endpoints.length;
  let m = 0;
  for (let i = 0; i < endpoints.length; i++) if (!exclude.has(endpoints[i]!.address)) m++;
  return m;
}

/**
 * The index of the `rank`-th endpoint not in `exclude` (0-based). With `allowed` equal to the list
 * length — nothing excluded, or everything (then exclusion is ignored) — it is `rank` itself.
 */
export function nthAllowed(endpoints: readonly BalancerEndpoint[], exclude: ReadonlySet<string> | undefined, allowed: number, rank: number): number {
  if (allowed === endpoints.length || exclude === undefined) return rank;
  for (let i = 0; i < endpoints.length; i++) {
    if (exclude.has(endpoints[i]!.address)) continue;
    if (rank-- === 0) return i;
  }
  return -1; // unreachable: rank < allowed
}

/**
 * Power of two choices: two distinct random allowed endpoints, the one with the lower `cost` wins
 * (the first on a tie, which is random anyway). Returns an index, or -1 for an empty list.
 */
export function powerOfTwo(
  endpoints: readonly BalancerEndpoint[],
  exclude: ReadonlySet<string> | undefined,
  random: () => number,
  cost: (address: string) => number,
): number {
  const n = endpoints.length;
  if (n === 0) return -1;
  let allowed = countAllowed(endpoints, exclude);
  if (allowed === 0) allowed = n; // everything tried: choose among all
  const r = Math.floor(random() * allowed);
  const a = nthAllowed(endpoints, exclude, allowed, r);
  if (allowed === 1) return a;
  let s = Math.floor(random() * (allowed - 1));
  if (s >= r) s++;
  const b = nthAllowed(endpoints, exclude, allowed, s);
  return cost(endpoints[b]!.address) < cost(endpoints[a]!.address) ? b : a;
}
