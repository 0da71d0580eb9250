/**
 * The token bucket as GCRA (the generic cell rate algorithm, ATM's and redis-cell's): the whole
 * state of a bucket is one number, its *theoretical arrival time* `tat` (monotonic ms). A request at
 * `now` passes when `tat − now ≤ τ`, and then pushes `tat` one emission interval `T` further. With
 * `T = per / requests` and `τ = (burst − 1) × T` this admits exactly what a bucket of `burst` tokens
 * refilled at `requests` per `per` would: `burst` at once from full, then one every `T`. A bucket
 * with `tat ≤ now` is full, so a missing bucket and a full one are the same thing (`tat` 0) — which
 * is what makes forgetting idle keys lossless.
 */

/** A rate: `requests` per `per` ms, up to `burst` at once. */
export interface Rate {
  /** Requests per window; ≥ 1. */
  readonly requests: number;
  /** The window, ms; > 0. */
  readonly per: number;
  /** Bucket capacity: requests that may pass at once after a quiet spell; ≥ 1. */
  readonly burst: number;
}

/** The rate compiled for the hot path. */
export interface Gcra {
  /** Emission interval T, ms per request. */
  readonly interval: number;
  /** Burst tolerance τ = (burst − 1) × T, ms. */
  readonly tolerance: number;
  readonly burst: number;
}

/** Float slack: τ is a sum of many Ts, so a request exactly on time must not fail by a rounding error. */
const EPSILON = 1e-9;

export function compileRate(r: Rate): Gcra {
  const interval = r.per / r.requests;
  return { interval, tolerance: (r.burst - 1) * interval, burst: r.burst };
}

/**
 * Tries one request against `tat` at `now`. Returns the new `tat` when it passes, or the negated
 * wait (ms until it would pass, < 0) when it does not — one number, so a take allocates nothing.
 */
export function gcraTake(g: Gcra, tat: number, now: number): number {
  const start = tat > now ? tat : now;
  const wait = start - now - g.tolerance;
  if (wait > EPSILON) return -wait;
  return start + g.interval;
}

/** Requests that could pass at once now (0…burst). */
export function gcraRemaining(g: Gcra, tat: number, now: number): number {
  const used = tat > now ? tat - now : 0;
  if (used - g.tolerance > EPSILON) return 0;
  return Math.min(g.burst, Math.floor((g.tolerance - used + EPSILON) / g.interval) + 1);
}
