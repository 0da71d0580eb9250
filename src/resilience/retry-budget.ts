/**
 * A retry budget (SPEC §5, after Finagle's and Linkerd's): over a sliding window, retries may be at
 * most `percent` of the requests seen, so a failing upstream sees at most (1 + percent/100) × its
 * normal load instead of (1 + attempts) ×. So that low-traffic routes can still retry, `minPerSecond`
 * retries per second are always allowed on top of that cap ("at least", not "plus").
 *
 * The window is a ring of buckets indexed by time (no timers): `windowMs / buckets` wide, the oldest
 * bucket dropping out as time moves on. The per-second floor is counted over the buckets covering the
 * last second (with the default 1 s buckets, the current second).
 */
import { systemClock, type Clock } from './clock.js';

export interface RetryBudgetOptions {
  /** Retries allowed as a percentage of requests in the window (0–100, fractions allowed). Policy default 20. */
  percent: number;
  /** Retries per second always allowed, whatever the percentage says. Policy default 10. */
  minPerSecond: number;
  /** Length of the sliding window, ms. Default 10 000. */
  windowMs?: number;
  /** Buckets the window is divided into. Default 10 (1 s each). */
  buckets?: number;
}

interface Bucket {
  /** The bucket's index in time (`floor(now / width)`); a stale epoch means the bucket is empty. */
  epoch: number;
  requests: number;
  retries: number;
}

export class RetryBudget {
  private readonly percent: number;
  private readonly minPerSecond: number;
  private readonly width: number;
  private readonly floorBuckets: number;
  private readonly ring: Bucket[];
  private readonly clock: Clock;

  constructor(options: RetryBudgetOptions, deps: { clock?: Clock } = {}) {
    const windowMs = options.windowMs ?? 10_000;
    const buckets = Math.max(1, Math.floor(options.buckets ?? 10));
    this.percent = options.percent;
    this.minPerSecond = options.minPerSecond;
    this.width = Math.max(1, windowMs / buckets);
    this.floorBuckets = Math.min(buckets, Math.max(1, Math.round(1000 / this.width)));
    this.ring = Array.from({ length: buckets }, () => ({ epoch: -1, requests: 0, retries: 0 }));
    this.clock = deps.clock ?? systemClock;
  }

  /** Counts one original request (not its retries). */
  recordRequest(): void {
    this.current().requests++;
  }

  /** True (and the retry is counted) when a retry fits the budget now. */
  tryAcquireRetry(): boolean {
    const now = this.epoch();
    let requests = 0;
    let retries = 0;
    let recentRetries = 0;
    for (const b of this.ring) {
      const age = now - b.epoch;
      if (age < 0 || age >= this.ring.length) continue;
      requests += b.requests;
      retries += b.retries;
      if (age < this.floorBuckets) recentRetries += b.retries;
    }
    const allowed = recentRetries < this.minPerSecond || retries < (requests * this.percent) / 100;
    if (allowed) this.current().retries++;
    return allowed;
  }

  private epoch(): number {
    return Math.floor(this.clock.now() / this.width);
  }

  private current(): Bucket {
    const epoch = this.epoch();
    const b = this.ring[epoch % this.ring.length]!;
    if (b.epoch !== epoch) {
      b.epoch = epoch;
      b.requests = 0;
      b.retries = 0;
    }
    return b;
  }
}
