/**
 * How long the property tests run. `npm test` runs each with a fixed seed and a small number of
 * runs (a few seconds in all); `npm run fuzz` raises the runs (`PILOTFISH_FUZZ_RUNS`, a multiplier
 * of each test's base, default 50 there) and takes a fresh seed unless `PILOTFISH_FUZZ_SEED` pins
 * one. A failure prints the seed and the shrunk counterexample; rerun with that seed to replay it.
 */
import fc from 'fast-check';

const SCALE = Number(process.env.PILOTFISH_FUZZ_RUNS ?? 1);
const FIXED_SEED = 1313;

/** The fast-check parameters for a property whose `npm test` budget is `base` runs. */
export function budget(base: number): fc.Parameters<unknown> {
  const seed = process.env.PILOTFISH_FUZZ_SEED !== undefined ? Number(process.env.PILOTFISH_FUZZ_SEED)
    : SCALE > 1 ? Date.now() % 2 ** 31 : FIXED_SEED;
  return { seed, numRuns: Math.max(1, Math.round(base * SCALE)) };
}

/** A test timeout that grows with the runs (ms). */
export function timeoutFor(baseMs: number): number {
  return Math.round(baseMs * Math.max(1, SCALE));
}
