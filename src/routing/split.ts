/**
 * Weighted choice among a route's destinations. Weights are integers summing to 100 (validated); a
 * lone destination needs none. `pick(bucket)` takes a number in [0, 100) so sticky sessions can pass
 * `hash % 100` and plain requests a random number: the same cumulative table serves both, which is
 * what makes raising a canary's weight only ever move users onto it.
 */
export interface Weighted<T> { readonly value: T; readonly weight: number }

export interface Split<T> {
  readonly destinations: readonly Weighted<T>[];
  pick(bucket: number): T;
}

export function compileSplit<T>(destinations: readonly Weighted<T>[]): Split<T> {
  if (destinations.length === 0) throw new Error('a split needs at least one destination');
  const cumulative: number[] = [];
  let sum = 0;
  for (const d of destinations) cumulative.push((sum += d.weight));
  const only = destinations.length === 1 ? destinations[0]!.value : undefined;
  return {
    destinations,
    pick(bucket) {
      if (only !== undefined) return only;
      const x = (bucket * sum) / 100;
      for (let i = 0; i < cumulative.length; i++) if (x < cumulative[i]!) return destinations[i]!.value;
      return destinations[destinations.length - 1]!.value;
    },
  };
}
