/** Small timing helpers for the runner: every wait is bounded and every timer is cleared. */
import { setTimeout as sleep } from 'node:timers/promises';

/** Resolves with `promise`'s value, or `fallback` after `ms` — clearing its timer either way. */
export async function raceTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  const ac = new AbortController();
  try {
    return await Promise.race([promise, sleep(ms, fallback, { signal: ac.signal })]);
  } finally {
    ac.abort();
  }
}

/** Sleeps until `performance.now()` reaches `at`; false when aborted first. */
export async function sleepUntil(at: number, signal?: AbortSignal): Promise<boolean> {
  const ms = at - performance.now();
  if (signal?.aborted) return false;
  if (ms <= 0) return true;
  try {
    await sleep(ms, undefined, signal ? { signal } : {});
    return true;
  } catch {
    return false;
  }
}

/** Wraps an async function so it runs at most once; later calls get the first call's promise. */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}
