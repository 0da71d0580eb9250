/**
 * A circuit breaker per upstream and subset (SPEC §5), wrapping opossum. The caller classifies each
 * call (5xx, connect errors, resets and timeouts fail; 4xx succeed); opossum keeps the rolling
 * window and the closed → open → half-open → closed machine (its transitions, events and reset timer).
 *
 * A call does not go through opossum's `call`/`fire`: that wraps every call in a promise of its own
 * with a `.then(…).catch(…)` on the action's (three promises, four closures and three microtasks),
 * emits `fire` and `success` with rest arguments, reads `Date.now()` twice and takes its semaphore
 * (a `Promise.resolve`) even with unlimited capacity. `admit` and `settle` do what it does to the
 * breaker's state — the same counts in opossum's own window (its `Status.increment`, which is all
 * its `fire`/`success`/`failure`/`reject` listeners do), the same admission (closed; one trial while
 * half-open, opossum's `pendingClose`), the same opening rule (its `fail`) and closing on success
 * while half-open — synchronously, so a caller classifies and counts in the one `.then` it already
 * has on the action's promise. circuit-breaker.test.ts drives opossum's own `fire` beside this
 * breaker through the same calls and compares state and counts after each.
 *
 * How opossum is configured, and why:
 * - `timeout: false`: opossum's per-call timer is not unref'd and does not cancel the call; the proxy
 *   enforces per-try timeouts itself.
 * - `rollingPercentilesEnabled: false`, `enableSnapshots: false`, and a shared `BucketTicker` as the
 *   `rotateBucketController`: no per-breaker timers, no latency sort on every failure.
 * - The threshold: opossum opens on `rate > errorThresholdPercentage` (strict). Ours opens when the
 *   failure rate *reaches* the threshold (Hystrix's and resilience4j's reading, and the only one in
 *   which 100 means something): we pass opossum `threshold − 1e-9`. Rates are ratios of window
 *   counts, so no real rate falls inside that sliver.
 * - The window is emptied when the breaker closes: opossum keeps old buckets, so a breaker closed by
 *   its half-open trial would re-open on the very next failure while the failures that opened it are
 *   still in the window (and rejects, which opossum counts as fires, would dilute it).
 * - Known opossum behaviour we keep: excused errors count as *successes* (what its errorFilter
 *   does), diluting the rate a little; a call admitted while closed that succeeds during half-open also closes the
 *   breaker (it is recent evidence the upstream answers).
 */
import { EventEmitter } from 'node:events';
import { BucketTicker } from './bucket-ticker.js';
import { CircuitOpenError } from './errors.js';
import { Opossum, type OpossumBreaker, type OpossumStatus } from './opossum.js';

export interface CircuitBreakerOptions {
  /**
   * Failure percentage (0–100, fractions allowed) at or above which the breaker opens, e.g. 50: 10
   * failures out of 20 calls open it. Policy default 50.
   */
  errorThresholdPercentage: number;
  /**
   * Minimum calls in the window before the breaker may open. Calls count when they start (opossum's
   * `fires`), so in-flight calls are in the denominator and a burst of concurrent failures opens the
   * breaker as their failures land. Policy default 20.
   */
  volumeThreshold: number;
  /** Length of the rolling statistics window, ms. Policy default 10 000. */
  rollingWindow: number;
  /** Time spent open before one half-open trial call is admitted, ms. Policy default 30 000. */
  resetTimeout: number;
  /** Buckets the window is divided into (the window slides one bucket at a time). Default 10. */
  rollingBuckets?: number;
}

export interface CircuitBreakerDeps {
  /** Used in errors and events, e.g. `reviews/v1`. Default `breaker`. */
  name?: string;
  /** Shared bucket rotation; without one the breaker owns a private ticker (one timer). */
  ticker?: BucketTicker;
}

export type BreakerState = 'closed' | 'half-open' | 'open';

/** The value of `pilotfish_circuit_breaker_state` (SPEC §6). */
export function breakerStateCode(state: BreakerState): 0 | 1 | 2 {
  return state === 'closed' ? 0 : state === 'half-open' ? 1 : 2;
}

/** A call's settlement, as handed to the classifier. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** True when the settled call counts as a failure in the breaker's statistics. */
export type FailureClassifier<T> = (settled: Settled<T>) => boolean;

export interface BreakerTransition {
  readonly name: string;
  readonly from: BreakerState;
  readonly to: BreakerState;
  /** `breakerStateCode(to)`. */
  readonly code: 0 | 1 | 2;
}

export interface CircuitBreakerEvents {
  stateChange: [BreakerTransition];
  /** A call was refused without touching the upstream (open, or half-open with the trial out). */
  reject: [];
}

export interface BreakerStats {
  fires: number;
  failures: number;
  successes: number;
  rejects: number;
}

/**
 * What `admit` decides for one call: refused (open, or half-open with the trial out — counted as a
 * reject, `reject` emitted), admitted, admitted as the half-open trial, or unprotected (after
 * `dispose`: nothing is counted).
 */
export const Admission = { Rejected: 0, Admitted: 1, Trial: 2, Unprotected: 3 } as const;
export type Admission = (typeof Admission)[keyof typeof Admission];

const THRESHOLD_EPSILON = 1e-9;
const DEFAULT_BUCKETS = 10;
/** opossum wants an action; every call goes through `admit` and `settle` instead, so it is never run. */
const NO_ACTION = (): never => { throw new Error('opossum\'s own call is not used'); };

export class CircuitBreaker extends EventEmitter<CircuitBreakerEvents> {
  readonly name: string;
  private readonly breaker: OpossumBreaker;
  private readonly status: OpossumStatus;
  private readonly rotator = new EventEmitter();
  private readonly buckets: number;
  private readonly unsubscribe: () => void;
  private readonly ownTicker: BucketTicker | undefined;
  private current: BreakerState = 'closed';
  private disposed = false;
  /** opossum's `pendingClose`: half-open with the trial not yet admitted (set by `halfOpen`, cleared by admitting it, `open` and `close`). */
  private pendingClose = false;

  constructor(options: CircuitBreakerOptions, deps: CircuitBreakerDeps = {}) {
    super();
    this.name = deps.name ?? 'breaker';
    const window = Math.max(1, options.rollingWindow);
    this.buckets = Math.max(1, Math.min(Math.floor(options.rollingBuckets ?? DEFAULT_BUCKETS), Math.floor(window)));
    this.ownTicker = deps.ticker ? undefined : new BucketTicker();
    const ticker = deps.ticker ?? this.ownTicker!;
    this.unsubscribe = ticker.subscribe(window / this.buckets, () => this.rotator.emit('rotate'));
    this.breaker = new Opossum(NO_ACTION, {
      name: this.name,
      timeout: false,
      resetTimeout: options.resetTimeout,
      errorThresholdPercentage: options.errorThresholdPercentage - THRESHOLD_EPSILON,
      volumeThreshold: Math.ceil(options.volumeThreshold),
      rollingCountTimeout: window,
      rollingCountBuckets: this.buckets,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      rotateBucketController: this.rotator,
      allowWarmUp: false,
    });
    this.status = this.breaker.status;
    this.breaker.on('open', () => {
      this.pendingClose = false;
      this.transition('open');
    });
    this.breaker.on('halfOpen', () => {
      this.pendingClose = true;
      this.transition('half-open');
    });
    this.breaker.on('close', () => {
      this.pendingClose = false;
      this.flushWindow();
      this.transition('closed');
    });
  }

  /**
   * Runs `action` through the breaker. Open (or half-open with the trial call out): rejects with
   * `CircuitOpenError` and `action` is not called. Otherwise the action's own result or error comes
   * back unchanged — a value classified as a failure is still returned (the caller relays the 503).
   * After `dispose()` the action runs unprotected: a request still in flight on an old snapshot
   * must not fail because its upstream's state was replaced. `admit` and `settle` are the same
   * call in two synchronous halves, for a caller that has its own `.then` on the action's promise.
   */
  execute<T>(action: () => Promise<T>, isFailure: FailureClassifier<T>): Promise<T> {
    const admission = this.admit();
    if (admission === Admission.Rejected) return Promise.reject(new CircuitOpenError(this.name));
    const start = Date.now();
    let pending: Promise<T>;
    try {
      pending = action();
    } catch (error) {
      this.settleError(admission, isFailure({ ok: false, error }), Date.now() - start);
      return Promise.reject(error);
    }
    return pending.then((value) => {
      this.settle(admission, isFailure({ ok: true, value }), Date.now() - start);
      return value;
    }, (error: unknown) => {
      this.settleError(admission, isFailure({ ok: false, error }), Date.now() - start);
      throw error;
    });
  }

  /**
   * The first half of a call, synchronous: what opossum's `call` decides before it runs the action
   * (counts the fire; refuses while open or while half-open with the trial out, counting a reject
   * and emitting `reject`; admits exactly one trial while half-open) without its promise, closures,
   * events or semaphore. A refused call is the caller's `CircuitOpenError`.
   */
  admit(): Admission {
    if (this.disposed) return Admission.Unprotected;
    this.status.increment('fires');
    if (this.breaker.closed) return Admission.Admitted;
    if (!this.pendingClose) {
      this.status.increment('rejects');
      this.emit('reject');
      return Admission.Rejected;
    }
    this.pendingClose = false;
    return Admission.Trial;
  }

  /**
   * A call that ended in an error, `counted` by the caller's classification: as `settle`, except
   * that during the half-open trial an error the classifier excuses (say, the client left) counts as
   * a failure too — no evidence about the upstream, so the breaker stays open and tries again after
   * another `resetTimeout`.
   */
  settleError(admission: Admission, counted: boolean, latencyMs: number): void {
    this.settle(admission, counted || admission === Admission.Trial, latencyMs);
  }

  /**
   * The second half: an admitted call settled, `failed` by the caller's classification. What opossum
   * does when its action settles: a success (or an excused error, its `errorFilter`) is counted and
   * closes a half-open breaker; a failure is counted and opens the breaker when the window's rate
   * passes the threshold with enough volume, or at once while half-open.
   */
  settle(admission: Admission, failed: boolean, latencyMs: number): void {
    if (admission === Admission.Unprotected || admission === Admission.Rejected || this.disposed) return;
    const breaker = this.breaker;
    if (!failed) {
      this.status.increment('successes', latencyMs);
      if (breaker.halfOpen) breaker.close();
      return;
    }
    this.status.increment('failures', latencyMs);
    if (breaker.warmUp) return;
    const halfOpen = breaker.halfOpen;
    const stats = this.status.stats;
    if (stats.fires < breaker.volumeThreshold && !halfOpen) return;
    if (stats.failures / stats.fires * 100 > breaker.options.errorThresholdPercentage || halfOpen) breaker.open();
  }

  get state(): BreakerState {
    return this.current;
  }

  /** 0 closed, 1 half-open, 2 open. */
  get stateCode(): 0 | 1 | 2 {
    return breakerStateCode(this.current);
  }

  /** Counts over the current window (for /clusters and tests). */
  stats(): BreakerStats {
    const { fires, failures, successes, rejects } = this.breaker.stats;
    return { fires, failures, successes, rejects };
  }

  /** Clears opossum's reset timer and our bucket subscription. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.unsubscribe();
    this.breaker.shutdown();
    this.ownTicker?.dispose();
  }

  private transition(to: BreakerState): void {
    if (to === this.current) return;
    const from = this.current;
    this.current = to;
    this.emit('stateChange', { name: this.name, from, to, code: breakerStateCode(to) });
  }

  /** Rotating every bucket out empties opossum's window through its public rotation hook. */
  private flushWindow(): void {
    for (let i = 0; i < this.buckets; i++) this.rotator.emit('rotate');
  }
}
