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
  /** Returning true counts the rejection as a success. */
  errorFilter: (err: unknown) => boolean;
  allowWarmUp: false;
}

export interface OpossumStats {
  fires: number;
  failures: number;
  successes: number;
  rejects: number;
}

export interface OpossumBreaker extends EventEmitter {
  fire(...args: unknown[]): Promise<unknown>;
  /** `fire` with `context` as the action's `this` (and without `fire`'s own rest-and-spread). */
  call(context: unknown, ...args: unknown[]): Promise<unknown>;
  shutdown(): void;
  readonly opened: boolean;
  readonly halfOpen: boolean;
  readonly closed: boolean;
  readonly isShutdown: boolean;
  readonly stats: OpossumStats;
}

interface OpossumConstructor {
  new (action: (...args: never[]) => unknown, options: OpossumOptions): OpossumBreaker;
  /** True for errors opossum made itself (open breaker, shutdown, semaphore), false for the action's. */
  isOurError(err: unknown): boolean;
}

const require = createRequire(import.meta.url);
export const Opossum = require('opossum') as OpossumConstructor;
