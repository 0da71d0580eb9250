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

/** What a lease of `want` tokens at once does to a bucket (the fleet store's script does the same in Lua). */
export interface LeaseOutcome {
  /** Tokens granted: as many of `want` as fit now. */
  readonly granted: number;
  /** The bucket's `tat` afterwards. */
  readonly tat: number;
  /** ms until `want` more would fit (0: they do now); `burst` more, when `want` exceeds it. */
  readonly retryMs: number;
}

/**
 * Takes up to `want` tokens from a bucket at once: `n` fit while `tat − now + (n − 1) × T ≤ τ`. The
 * reference for the fleet store's Lua script (src/fleet/rate-limits.ts), which a test holds to it.
 */
export function gcraLease(g: Gcra, tat: number, now: number, want: number): LeaseOutcome {
  const start = tat > now ? tat : now;
  const fit = Math.max(0, Math.floor((g.tolerance - (start - now)) / g.interval + EPSILON) + 1);
  const granted = Math.min(want, fit);
  const after = start + granted * g.interval;
  const next = Math.min(want, g.burst);
  return { granted, tat: after, retryMs: Math.max(0, after - now - g.tolerance + (next - 1) * g.interval) };
}
