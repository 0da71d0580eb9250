/**
 * A retry budget (SPEC §5) with Finagle's and Linkerd's token-bucket semantics (Finagle's
 * `RetryBudget(ttl, minRetriesPerSec, percentCanRetry)`, tower's `TpsBudget` under linkerd2-proxy):
 *
 * - every original request deposits `percent / 100` of a retry; a retry withdraws one;
 * - deposits and withdrawals expire after the window (`windowMs`, default 10 s);
 * - on top of the deposits a fixed reserve of `minPerSecond × window seconds` retries is always in
 *   the bucket. Withdrawals expire like deposits, so the reserve refills as old retries leave the
 *   window: averaged over the window it is `minPerSecond` retries per second, and a burst on a
 *   quiet route can spend all of it at once.
 *
 * So within any window, retries ≤ percent% of the window's requests + the reserve, and over a long
 * run against an upstream that always fails, the extra load is at most `percent`% of the requests
 * plus `minPerSecond` retries per second.
 *
 * The window is a ring of buckets indexed by time (no timers): `windowMs / buckets` wide, the oldest
 * bucket dropping out as time moves on, so an expiry is late by at most one bucket.
 */
import { systemClock, type Clock } from './clock.js';

export interface RetryBudgetOptions {
  /** Retries earned per original request, as a percentage (0–100, fractions allowed). Policy default 20. */
  percent: number;
  /**
   * The reserve, in retries per second averaged over the window: `minPerSecond × windowMs / 1000`
   * retries are always available on top of the earned ones, spendable at once. Policy default 10.
   */
  minPerSecond: number;
  /** How long deposits and withdrawals count, ms (Finagle's and Linkerd's `ttl`). Default 10 000. */
  windowMs?: number;
  /** Buckets the window is divided into. Default 10 (1 s each). */
  buckets?: number;
}

/** The budget's settings and its state now (explain, /clusters). */
export interface RetryBudgetView {
  readonly percent: number;
  readonly minPerSecond: number;
  readonly windowMs: number;
  /** Retries always in the bucket: `minPerSecond × windowMs / 1000`. */
  readonly reserve: number;
  /** Original requests and retries counted in the window now. */
  readonly requests: number;
  readonly retries: number;
  /** Whole retries that would be granted now. */
  readonly available: number;
}

interface Bucket {
  /** The bucket's index in time (`floor(now / width)`); a stale epoch means the bucket is empty. */
  epoch: number;
  requests: number;
  retries: number;
}

export class RetryBudget {
  readonly options: Readonly<Required<RetryBudgetOptions>>;
  private readonly ratio: number;
  private readonly reserve: number;
  private readonly width: number;
  private readonly ring: Bucket[];
  private readonly clock: Clock;

  constructor(options: RetryBudgetOptions, deps: { clock?: Clock } = {}) {
    const windowMs = options.windowMs ?? 10_000;
    const buckets = Math.max(1, Math.floor(options.buckets ?? 10));
    this.options = Object.freeze({ percent: options.percent, minPerSecond: options.minPerSecond, windowMs, buckets });
    this.ratio = options.percent / 100;
    this.reserve = (options.minPerSecond * windowMs) / 1000;
    this.width = Math.max(1, windowMs / buckets);
    this.ring = Array.from({ length: buckets }, () => ({ epoch: -1, requests: 0, retries: 0 }));
    this.clock = deps.clock ?? systemClock;
  }

  /** Counts one original request (not its retries): it deposits `percent`% of a retry. */
  recordRequest(): void {
    this.current().requests++;
  }

  /** True (and the retry is withdrawn) when a whole retry is in the bucket now. */
  tryAcquireRetry(): boolean {
    if (this.balance() < 1) return false;
    this.current().retries++;
    return true;
  }

  view(): RetryBudgetView {
    const { requests, retries } = this.totals();
    const o = this.options;
    return {
      percent: o.percent, minPerSecond: o.minPerSecond, windowMs: o.windowMs, reserve: this.reserve,
      requests, retries, available: Math.max(0, Math.floor(this.balance())),
    };
  }

  /** Retries in the bucket: the reserve plus what the window's requests earned, less its retries. */
  private balance(): number {
    const { requests, retries } = this.totals();
    // The epsilon keeps 5 requests at 20% worth exactly one retry despite binary fractions.
    return this.reserve + requests * this.ratio - retries + 1e-9;
  }

  private totals(): { requests: number; retries: number } {
    const now = this.epoch();
    let requests = 0;
    let retries = 0;
    for (const b of this.ring) {
      const age = now - b.epoch;
      if (age < 0 || age >= this.ring.length) continue;
      requests += b.requests;
      retries += b.retries;
    }
    return { requests, retries };
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
