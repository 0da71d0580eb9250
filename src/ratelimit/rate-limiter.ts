/**
 * The seam every rate limiter implements, and the local one. The route's layer (pipeline/
 * rate-limit.ts) only calls `take`; it never knows where the bucket lives. A local limiter answers
 * synchronously from memory. A fleet-wide one (`scope: fleet`: one bucket shared by every sidecar
 * through the fleet's Redis, with a local allowance taken from Redis in batches so most takes stay
 * in memory) implements the same interface and may answer with a promise when it must ask Redis;
 * `LimiterFactories` is where it plugs in.
 */
import { compileRate, gcraRemaining, gcraTake, type Gcra, type Rate } from './gcra.js';
import { KeyedBuckets } from './keyed-buckets.js';
import type { FleetLimiterState } from './fleet-limiter.js';

export interface RateLimiter {
  readonly rate: Rate;
  /**
   * Takes one request for `key` (undefined: the one bucket shared by every request of the route).
   * 0 when it passes, otherwise the milliseconds until it would. Synchronous for a local limiter; a
   * remote one may return a promise.
   */
  take(key: string | undefined): number | Promise<number>;
  /** Requests `key` could make at once now (0…burst), for explain. */
  remaining(key: string | undefined): number;
  /** For explain and /config_dump: how many keys are tracked, of how many allowed. */
  stats(): LimiterStats;
}

export interface LimiterStats {
  readonly scope: 'local' | 'fleet';
  readonly keys: number;
  readonly maxKeys: number;
  /** Buckets not yet refilled that were dropped to make room for new keys. */
  readonly evictedLive: number;
  /** A fleet-wide limit's state: shared or fallen back, N, the batch (fleet-limiter.ts). */
  readonly fleet?: FleetLimiterState;
}

export interface LocalLimiterOptions extends Rate {
  /** Most keys with a bucket of their own (least recently used evicted). */
  readonly maxKeys: number;
  /** Monotonic clock, ms. Default `performance.now` (the global, so fake timers can drive it). */
  readonly now?: () => number;
}

/** Token buckets in this process: one shared `tat`, or a bounded table of them by key. */
export class LocalRateLimiter implements RateLimiter {
  readonly rate: Rate;
  private readonly gcra: Gcra;
  private readonly now: () => number;
  private tat = 0;
  private keyed: KeyedBuckets | undefined;

  constructor(private readonly options: LocalLimiterOptions) {
    this.rate = { requests: options.requests, per: options.per, burst: options.burst };
    this.gcra = compileRate(this.rate);
    this.now = options.now ?? (() => globalThis.performance.now());
  }

  take(key: string | undefined): number {
    const now = this.now();
    if (key !== undefined) return (this.keyed ??= new KeyedBuckets(this.gcra, this.options.maxKeys)).take(key, now);
    const r = gcraTake(this.gcra, this.tat, now);
    if (r < 0) return -r;
    this.tat = r;
    return 0;
  }

  remaining(key: string | undefined): number {
    const now = this.now();
    if (key === undefined) return gcraRemaining(this.gcra, this.tat, now);
    return this.keyed?.remaining(key, now) ?? this.rate.burst;
  }

  stats(): LimiterStats {
    return { scope: 'local', keys: this.keyed?.size ?? 0, maxKeys: this.options.maxKeys, evictedLive: this.keyed?.evictedLive ?? 0 };
  }
}
