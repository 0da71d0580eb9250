/**
 * The one file that touches opossum's API. opossum 10 ships no type declarations, so the subset we use
 * is typed here and the CommonJS module is loaded with `createRequire` (no ambient `declare module`
 * leaking into the rest of the project).
 */
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';

/** The constructor options we pass; see node_modules/opossum/lib/circuit.js for the full list. */
export interface OpossumOptions {
  name: string;
  /** `false` disables opossum's per-call timer (not unref'd upstream; the proxy has its own). */
  timeout: false;
  resetTimeout: number;
  /** opossum opens when `failures / fires * 100 > errorThresholdPercentage` (strict). */
  errorThresholdPercentage: number;
  /** opossum returns early while `fires < volumeThreshold` (so it may open once fires reach it). */
  volumeThreshold: number;
  rollingCountTimeout: number;
  rollingCountBuckets: number;
  rollingPercentilesEnabled: false;
  enableSnapshots: false;
  rotateBucketController: EventEmitter;
  allowWarmUp: false;
}

export interface OpossumStats {
  fires: number;
  failures: number;
  successes: number;
  rejects: number;
}

/**
 * A breaker's rolling window (opossum's `Status`). `increment` is what the listeners opossum's
 * constructor puts on its own `fire`, `success`, `failure` and `reject` events call: the count of the
 * current bucket, and for `successes` / `failures` a latency pushed (read only for percentiles).
 */
export interface OpossumStatus {
  increment(property: 'fires' | 'successes' | 'failures' | 'rejects', latencyMs?: number): void;
  /** The window's totals (a reduce over its buckets). */
  readonly stats: OpossumStats;
}

/**
 * The state machine and window we drive: `open()` and `close()` are opossum's transitions (events,
 * the reset timer that leads to `halfOpen`); CircuitBreaker does the per-call work of opossum's `call`
 * itself (see circuit-breaker.ts), so `fire` / `call` are not typed here.
 */
export interface OpossumBreaker extends EventEmitter {
  shutdown(): void;
  open(): void;
  close(): void;
  readonly opened: boolean;
  readonly halfOpen: boolean;
  readonly closed: boolean;
  readonly warmUp: boolean;
  readonly volumeThreshold: number;
  readonly options: { readonly errorThresholdPercentage: number };
  readonly isShutdown: boolean;
  readonly status: OpossumStatus;
  readonly stats: OpossumStats;
}

interface OpossumConstructor {
  new (action: (...args: never[]) => unknown, options: OpossumOptions): OpossumBreaker;
  /** True for errors opossum made itself (open breaker, shutdown, semaphore), false for the action's. */
  isOurError(err: unknown): boolean;
}

const require = createRequire(import.meta.url);
export const Opossum = require('opossum') as OpossumConstructor;
