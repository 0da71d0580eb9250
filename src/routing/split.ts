/**
 * Weighted choice among a route's destinations. Weights are integers summing to 100 (validated); a
 * lone destination needs none. `pick(bucket)` takes a number in [0, 100) so sticky sessions can pass
 * `stickyBucket(route, key)` and plain requests `Math.random() * 100`: the same cumulative table serves
 * both, which is what makes raising a canary's weight only ever move users onto it (a user's bucket
 * never changes; only the boundary between destinations moves).
 */
export interface Weighted<T> { readonly value: T; readonly weight: number }

export interface Split<T> {
  readonly destinations: readonly Weighted<T>[];
  /** The destination whose cumulative-weight interval holds `bucket` (in [0, 100)). */
  pick(bucket: number): T;
  /**
   * Like `pick`, over only the destinations `eligible` accepts (those with a healthy, non-ejected
   * endpoint), their weights renormalised to fill [0, 100). Undefined when no destination with a
   * positive weight is eligible: the caller answers 503 `UH`.
   */
  pickEligible(bucket: number, eligible: (value: T, index: number) => boolean): T | undefined;
}

export function compileSplit<T>(destinations: readonly Weighted<T>[]): Split<T> {
  if (destinations.length === 0) throw new Error('a split needs at least one destination');
  const cumulative: number[] = [];
  let sum = 0;
  for (const d of destinations) cumulative.push((sum += d.weight));
  const only = destinations.length === 1 ? destinations[0]!.value : undefined;
  const last = destinations[destinations.length - 1]!.value;
  return {
    destinations,
    pick(bucket) {
      if (only !== undefined) return only;
      const x = (bucket * sum) / 100;
      for (let i = 0; i < cumulative.length; i++) if (x < cumulative[i]!) return destinations[i]!.value;
      return last;
    },
    pickEligible(bucket, eligible) {
      if (only !== undefined) return eligible(only, 0) ? only : undefined;
      let total = 0;
      for (let i = 0; i < destinations.length; i++) {
        const d = destinations[i]!;
        if (d.weight > 0 && eligible(d.value, i)) total += d.weight;
      }
      if (total === 0) return undefined;
      const x = (bucket * total) / 100;
      let acc = 0;
      let chosen: T | undefined;
      for (let i = 0; i < destinations.length; i++) {
        const d = destinations[i]!;
        if (d.weight <= 0 || !eligible(d.value, i)) continue;
        chosen = d.value;
        acc += d.weight;
        if (x < acc) return chosen;
      }
      return chosen;
    },
  };
}
