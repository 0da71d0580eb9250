/**
 * Retry backoff (SPEC §5): exponential from `base` to `max` with **full jitter**, built on cockatiel's
 * `ExponentialBackoff` and `fullJitterGenerator`. Retry n (0-based) waits a uniform random integer in
 * [0, min(max, base × 2ⁿ)) ms.
 *
 * Why full jitter rather than cockatiel's default decorrelated jitter: it is Envoy's algorithm and the
 * default SPEC §5 names, its bounds are easy to state and to check in `explain`/`validate` (the n-th
 * delay never exceeds min(max, base × 2ⁿ)), and in AWS's comparison it spreads retries of many
 * clients as well as decorrelated jitter with less total work. Cockatiel's decorrelated generator
 * also scales its first delays by a smoothing factor, so `base` would not mean "the first ceiling".
 *
 * `Retry-After` (seconds or an HTTP date) replaces the jittered delay when the answer carries one,
 * capped at `max`: the upstream knows best when it can take traffic again, but a route's retry
 * policy bounds how long one request may sit waiting for it.
 */
import { ExponentialBackoff, fullJitterGenerator, type IBackoff } from 'cockatiel';

export interface BackoffOptions {
  /** Ceiling of the first retry's delay, ms; doubles per retry. Policy default 25. */
  base: number;
  /** Ceiling of any delay, Retry-After included, ms. Policy default 250. */
  max: number;
}

export class RetryBackoff {
  readonly max: number;
  private readonly factory: ExponentialBackoff<number>;

  constructor(options: BackoffOptions) {
    this.max = options.max;
    this.factory = new ExponentialBackoff({ initialDelay: options.base, maxDelay: options.max, generator: fullJitterGenerator });
  }

  /** A fresh delay sequence for one request. */
  start(): BackoffSequence {
    return new BackoffSequence(this.factory, this.max);
  }
}

export class BackoffSequence {
  private current: IBackoff<unknown> | undefined;

  constructor(private readonly factory: ExponentialBackoff<number>, private readonly max: number) {}

  /**
   * The delay before the next retry, ms. The exponential sequence advances even when `retryAfterMs`
   * overrides it, so a later retry without Retry-After still backs off further.
   */
  next(retryAfterMs?: number): number {
    this.current = this.current ? this.current.next(undefined) : this.factory.next();
    if (retryAfterMs === undefined) return this.current.duration;
    return Math.min(Math.max(0, retryAfterMs), this.max);
  }
}

/**
 * Parses a `Retry-After` header (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) into ms from
 * `nowWall` (epoch ms). Undefined when absent or malformed; a date in the past gives 0.
 */
export function parseRetryAfter(value: string | readonly string[] | undefined, nowWall: number = Date.now()): number | undefined {
  const raw = (typeof value === 'string' ? value : value?.[0])?.trim();
  if (!raw) return undefined;
  if (/^\d+$/.test(raw)) return Number(raw) * 1000;
  // Only the IMF-fixdate form and its obsolete variants contain a comma or letters; bare numbers with
  // signs or fractions are invalid delay-seconds and must not be read as dates.
  if (!/[a-z]/i.test(raw)) return undefined;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowWall);
}
