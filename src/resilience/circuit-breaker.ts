/**
 * A circuit breaker per upstream and subset (SPEC §5), wrapping opossum. The caller classifies each
 * call (5xx, connect errors, resets and timeouts fail; 4xx succeed); opossum keeps the rolling
 * window and the closed → open → half-open → closed machine.
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
 * - Known opossum behaviour we keep: excused errors count as *successes* (errorFilter), diluting the
 *   rate a little; a call admitted while closed that succeeds during half-open also closes the
 *   breaker (it is recent evidence the upstream answers).
 */
import { EventEmitter } from 'node:events';
import { BucketTicker } from './bucket-ticker.js';
import { CircuitOpenError } from './errors.js';
import { Opossum, type OpossumBreaker } from './opossum.js';

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

// Sentinels carried through opossum: a resolved value that counts as a failure must *reject* inside
// the action to be counted, and an error that must not count is marked for `errorFilter`.
class CountedValue { constructor(readonly value: unknown) {} }
class CountedError { constructor(readonly error: unknown) {} }
class UncountedError { constructor(readonly error: unknown) {} }

const THRESHOLD_EPSILON = 1e-9;
const DEFAULT_BUCKETS = 10;

export class CircuitBreaker extends EventEmitter<CircuitBreakerEvents> {
  readonly name: string;
  private readonly breaker: OpossumBreaker;
  private readonly rotator = new EventEmitter();
  private readonly buckets: number;
  private readonly unsubscribe: () => void;
  private readonly ownTicker: BucketTicker | undefined;
  private current: BreakerState = 'closed';
  private disposed = false;
  private classifier: FailureClassifier<unknown> | undefined;
  private verdicts: readonly [Verdicts, Verdicts] | undefined;
  /** The sentinels back into what the caller sees: a failed value returned, the action's own error, `CircuitOpenError`. */
  private readonly unwrap = (err: unknown): unknown => {
    if (err instanceof CountedValue) return err.value;
    if (err instanceof CountedError || err instanceof UncountedError) throw err.error;
    if ((err as { code?: unknown } | null)?.code === 'EOPENBREAKER') throw new CircuitOpenError(this.name);
    throw err;
  };

  constructor(options: CircuitBreakerOptions, deps: CircuitBreakerDeps = {}) {
    super();
    this.name = deps.name ?? 'breaker';
    const window = Math.max(1, options.rollingWindow);
    this.buckets = Math.max(1, Math.min(Math.floor(options.rollingBuckets ?? DEFAULT_BUCKETS), Math.floor(window)));
    this.ownTicker = deps.ticker ? undefined : new BucketTicker();
    const ticker = deps.ticker ?? this.ownTicker!;
    this.unsubscribe = ticker.subscribe(window / this.buckets, () => this.rotator.emit('rotate'));
    this.breaker = new Opossum(runWithVerdicts, {
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
      errorFilter: (err) => err instanceof UncountedError,
      allowWarmUp: false,
    });
    this.breaker.on('open', () => this.transition('open'));
    this.breaker.on('halfOpen', () => this.transition('half-open'));
    this.breaker.on('close', () => {
      this.flushWindow();
      this.transition('closed');
    });
    this.breaker.on('reject', () => this.emit('reject'));
  }

  /**
   * Runs `action` through the breaker. Open (or half-open with the trial call out): rejects with
   * `CircuitOpenError` and `action` is not called. Otherwise the action's own result or error comes
   * back unchanged — a value classified as a failure is still returned (the caller relays the 503).
   * After `dispose()` the action runs unprotected: a request still in flight on an old snapshot
   * must not fail because its upstream's state was replaced.
   */
  execute<T>(action: () => Promise<T>, isFailure: FailureClassifier<T>): Promise<T> {
    return this.attempt(action, isFailure).then(undefined, this.unwrap) as Promise<T>;
  }

  /**
   * `execute` without its last `.then`: the caller catches what the returned promise rejects with
   * and hands it to `recover`, which returns the value of a call classified as a failure and throws
   * anything else as `execute` would have rejected with it. The path every request takes: one
   * promise and microtask fewer than `execute`, no async frame, no closure, no rest arguments
   * (opossum's `call` with the verdicts as `this`, rather than `fire(() => …)`), one `.then`
   * inside opossum for the classification.
   */
  attempt<T>(action: () => Promise<T>, isFailure: FailureClassifier<T>): Promise<T> {
    if (this.disposed) return action();
    // opossum admits exactly one call while half-open, so a call admitted now is the trial.
    const verdicts = this.verdictsFor(isFailure as FailureClassifier<unknown>, this.current === 'half-open');
    return this.breaker.call(verdicts, action) as Promise<T>;
  }

  /** What `attempt`'s rejection comes to: the value of a call counted as a failure, else thrown as the caller's error. */
  recover<T>(err: unknown): T {
    return this.unwrap(err) as T;
  }

  /** The verdicts for this classifier and trial flag, made once (a route's classifier is a constant). */
  private verdictsFor(isFailure: FailureClassifier<unknown>, trial: boolean): Verdicts {
    if (this.classifier !== isFailure) {
      this.classifier = isFailure;
      this.verdicts = [new Verdicts(isFailure, false), new Verdicts(isFailure, true)];
    }
    return this.verdicts![trial ? 1 : 0];
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

/**
 * What a call's settlement comes to inside opossum: the classifier's verdict turned into what
 * opossum counts. An error the classifier excuses (say, the client left) would close a half-open
 * breaker as a "success" without any evidence about the upstream; during the trial it counts as a
 * failure instead, so the breaker stays open and tries again after another `resetTimeout`. The
 * handlers are fields, bound once, so a call allocates no closure.
 */
class Verdicts {
  constructor(private readonly isFailure: FailureClassifier<unknown>, private readonly trial: boolean) {}

  readonly onValue = (value: unknown): unknown => {
    if (this.isFailure({ ok: true, value })) throw new CountedValue(value);
    return value;
  };

  readonly onError = (error: unknown): never => {
    throw this.trial || this.isFailure({ ok: false, error }) ? new CountedError(error) : new UncountedError(error);
  };
}

/** opossum's action: `this` is the call's `Verdicts` (opossum's `call(context, …)`), the argument the caller's action. */
function runWithVerdicts(this: Verdicts, action: () => Promise<unknown>): Promise<unknown> {
  return action().then(this.onValue, this.onError);
}
