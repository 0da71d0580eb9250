/**
 * Time as the resilience state machines see it. `now()` is monotonic milliseconds (the same timebase
 * as `RequestContext.start` and `deadline`, `performance.now()`), so a wall-clock jump never ejects,
 * re-admits or expires anything early. `wall()` is epoch milliseconds, only for display (/clusters).
 *
 * Timers are the global `setTimeout`/`setInterval`, so tests drive everything with vitest's fake
 * timers, which also fake `performance.now()` and `Date.now()` — hence the global `performance`, looked
 * up on each call, rather than an import from node:perf_hooks (which fake timers cannot replace).
 */
export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Epoch milliseconds (wall clock), for display only. */
  wall(): number;
}

export const systemClock: Clock = {
  now: () => globalThis.performance.now(),
  wall: () => Date.now(),
};

/** A source of uniform random numbers in [0, 1), injectable so statistics can be tested. */
export type RandomSource = () => number;
