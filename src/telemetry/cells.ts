/**
 * The accumulators at the leaves of a `LabelTree`: a counter, a gauge and a histogram series as plain
 * numbers. Updating one is a field write (and, for a histogram, a short bucket scan) — no label
 * hashing, no validation, no allocation. prom-bridge.ts publishes them to prom-client on each scrape.
 */
import type { Labels } from './label-tree.js';

export class CounterCell {
  value = 0;
  constructor(readonly labels: Labels) {}

  inc(by = 1): void {
    this.value += by;
  }
}

export class GaugeCell {
  value = 0;
  constructor(readonly labels: Labels) {}

  set(value: number): void {
    this.value = value;
  }
}

export class HistogramCell {
  /** Observations per bucket, not cumulative: `counts[i]` for `≤ bounds[i]`, the last for +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly labels: Labels, private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    // A NaN or negative duration (clock skew, a caller's bug) must not poison `sum` forever.
    const v = value >= 0 ? value : 0;
    const bounds = this.bounds;
    // Linear scan: most proxy latencies land in the first few buckets, which beats a binary search.
    let i = 0;
    while (i < bounds.length && v > bounds[i]!) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }
}
