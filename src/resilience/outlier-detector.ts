/**
 * Passive outlier detection per upstream (SPEC §5, Envoy's consecutive-error detectors). Each answer
 * from an endpoint is recorded; `consecutive5xx` 5xx-or-worse in a row, or `consecutiveGatewayErrors`
 * gateway errors in a row (502/503/504, connect failure, reset, timeout), eject the endpoint for
 * `baseEjectionTime × multiplier`, capped at `maxEjectionTime`.
 *
 * - The multiplier grows by one per ejection and shrinks by one for every full `interval` the endpoint
 *   then stays admitted (Envoy's backoff decay), so a flaky endpoint is kept out longer and longer,
 *   while one that failed once long ago starts again from `baseEjectionTime`.
 * - At most `maxEjectionPercent` of the upstream's endpoints are ejected at once, rounded down, but at
 *   least one (a single-endpoint upstream can still eject its endpoint; 0% disables ejection). An
 *   ejection refused by that cap emits `overflow` and keeps the counters, so the endpoint's next error
 *   ejects it if room has freed up.
 * - Re-admission is exact on read (`isEjected` checks the clock) and is also swept every `interval`
 *   by one unref'd timer, which emits `uneject` and decays multipliers.
 * - Answers recorded while an endpoint is ejected (requests already in flight) are ignored, and its
 *   counters restart from zero when it is re-admitted.
 */
import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from './clock.js';
import { isGatewayError, isUpstreamFailure, type Outcome } from './outcome.js';

export interface OutlierDetectionOptions {
  /** Consecutive 5xx answers (or connect failures, resets, timeouts) that eject. Policy default 5. */
  consecutive5xx: number;
  /** Consecutive gateway errors that eject; undefined disables this detector. No default. */
  consecutiveGatewayErrors?: number | undefined;
  /** Sweep period for re-admission and multiplier decay, ms. Policy default 10 000. */
  interval: number;
  /** Ejection time for the first ejection; multiplied by the multiplier after, ms. Policy default 30 000. */
  baseEjectionTime: number;
  /** Upper bound on ejected endpoints, percent of the upstream's endpoints. Policy default 10. */
  maxEjectionPercent: number;
  /** Cap on one ejection's length, ms (raised to `baseEjectionTime` if lower). Default 300 000. */
  maxEjectionTime?: number;
}

export type EjectionReason = 'consecutive-5xx' | 'consecutive-gateway-errors';

export interface EjectionEvent {
  readonly endpoint: string;
  readonly reason: EjectionReason;
  /** Length of this ejection, ms. */
  readonly durationMs: number;
  /** Ejections of this endpoint so far, this one included. */
  readonly ejections: number;
}

export interface OutlierDetectorEvents {
  eject: [EjectionEvent];
  uneject: [{ readonly endpoint: string }];
  /** An ejection was due but `maxEjectionPercent` was reached (Envoy's `ejections_overflow`). */
  overflow: [{ readonly endpoint: string; readonly reason: EjectionReason }];
}

/** One endpoint's row in /clusters. */
export interface EndpointOutlierState {
  readonly endpoint: string;
  readonly ejected: boolean;
  /** Wall-clock epoch ms at which the endpoint is re-admitted; only while ejected. */
  readonly ejectedUntil?: number;
  readonly ejections: number;
  readonly consecutive5xx: number;
  readonly consecutiveGatewayErrors: number;
}

interface Tracker {
  consecutive5xx: number;
  consecutiveGateway: number;
  ejections: number;
  multiplier: number;
  /** Monotonic ms until which the endpoint is ejected; 0 when admitted. */
  ejectedUntil: number;
  /** Monotonic ms since which the endpoint has been admitted (for multiplier decay). */
  admittedSince: number;
}

const DEFAULT_MAX_EJECTION_TIME = 300_000;

export class OutlierDetector extends EventEmitter<OutlierDetectorEvents> {
  private readonly options: OutlierDetectionOptions;
  private readonly clock: Clock;
  private readonly trackers = new Map<string, Tracker>();
  private readonly sweeper: NodeJS.Timeout;
  private ejectedCount = 0;

  constructor(endpoints: Iterable<string>, options: OutlierDetectionOptions, deps: { clock?: Clock } = {}) {
    super();
    this.options = options;
    this.clock = deps.clock ?? systemClock;
    this.setEndpoints(endpoints);
    this.sweeper = setInterval(() => this.sweep(), Math.max(1, options.interval));
    this.sweeper.unref();
  }

  /** Records what a try against `endpoint` came to. Unknown endpoints are ignored. */
  record(endpoint: string, outcome: Outcome): void {
    const t = this.trackers.get(endpoint);
    if (!t || this.refresh(endpoint, t)) return;
    if (!isUpstreamFailure(outcome)) {
      t.consecutive5xx = 0;
      t.consecutiveGateway = 0;
      return;
    }
    // Envoy: a 5xx that is not a gateway error breaks the gateway-error run but extends the 5xx run.
    t.consecutiveGateway = isGatewayError(outcome) ? t.consecutiveGateway + 1 : 0;
    t.consecutive5xx++;
    const gatewayLimit = this.options.consecutiveGatewayErrors;
    if (gatewayLimit !== undefined && t.consecutiveGateway >= gatewayLimit) this.tryEject(endpoint, t, 'consecutive-gateway-errors');
    else if (t.consecutive5xx >= this.options.consecutive5xx) this.tryEject(endpoint, t, 'consecutive-5xx');
  }

  /** True while `endpoint` is ejected; re-admits it (emitting `uneject`) once its time is up. */
  isEjected(endpoint: string): boolean {
    const t = this.trackers.get(endpoint);
    return t !== undefined && this.refresh(endpoint, t);
  }

  /**
   * When an ejected `endpoint` is re-admitted (monotonic ms, the clock's `now()`); 0 when it is not
   * ejected. Lets a cache of the eligible endpoints know how long it stays valid without a timer.
   */
  readmissionAt(endpoint: string): number {
    const t = this.trackers.get(endpoint);
    return t !== undefined && this.refresh(endpoint, t) ? t.ejectedUntil : 0;
  }

  /** Endpoints ejected right now. */
  get ejected(): number {
    for (const [endpoint, t] of this.trackers) this.refresh(endpoint, t);
    return this.ejectedCount;
  }

  /**
   * Replaces the endpoint set (DNS refresh): kept endpoints keep their state, new ones start clean,
   * removed ones are forgotten.
   */
  setEndpoints(endpoints: Iterable<string>): void {
    const wanted = new Set(endpoints);
    for (const [endpoint, t] of this.trackers) {
      if (wanted.has(endpoint)) continue;
      if (t.ejectedUntil > 0) this.ejectedCount--;
      this.trackers.delete(endpoint);
    }
    const now = this.clock.now();
    for (const endpoint of wanted) {
      if (!this.trackers.has(endpoint)) {
        this.trackers.set(endpoint, { consecutive5xx: 0, consecutiveGateway: 0, ejections: 0, multiplier: 0, ejectedUntil: 0, admittedSince: now });
      }
    }
  }

  snapshot(): EndpointOutlierState[] {
    const now = this.clock.now();
    const wall = this.clock.wall();
    return [...this.trackers].map(([endpoint, t]) => {
      const ejected = this.refresh(endpoint, t);
      return {
        endpoint,
        ejected,
        ...(ejected ? { ejectedUntil: Math.round(wall + (t.ejectedUntil - now)) } : {}),
        ejections: t.ejections,
        consecutive5xx: t.consecutive5xx,
        consecutiveGatewayErrors: t.consecutiveGateway,
      };
    });
  }

  /** Stops the sweep timer. The detector still answers reads (lazily) afterwards. */
  dispose(): void {
    clearInterval(this.sweeper);
  }

  /** Most endpoints that may be ejected at once. */
  private maxEjected(): number {
    const pct = this.options.maxEjectionPercent;
    if (pct <= 0) return 0;
    // The epsilon keeps e.g. 3 × 33.3333…% from flooring to 0.99999 → 0.
    return Math.max(1, Math.floor((this.trackers.size * pct) / 100 + 1e-9));
  }

  private tryEject(endpoint: string, t: Tracker, reason: EjectionReason): void {
    for (const [other, ot] of this.trackers) if (other !== endpoint) this.refresh(other, ot);
    if (this.ejectedCount >= this.maxEjected()) {
      this.emit('overflow', { endpoint, reason });
      return;
    }
    t.ejections++;
    t.multiplier++;
    const cap = Math.max(this.options.maxEjectionTime ?? DEFAULT_MAX_EJECTION_TIME, this.options.baseEjectionTime);
    const durationMs = Math.min(this.options.baseEjectionTime * t.multiplier, cap);
    t.ejectedUntil = this.clock.now() + durationMs;
    t.consecutive5xx = 0;
    t.consecutiveGateway = 0;
    this.ejectedCount++;
    this.emit('eject', { endpoint, reason, durationMs, ejections: t.ejections });
  }

  /** Re-admits `t` if its time is up; returns whether it is (still) ejected. */
  private refresh(endpoint: string, t: Tracker): boolean {
    if (t.ejectedUntil === 0) return false;
    if (this.clock.now() < t.ejectedUntil) return true;
    t.admittedSince = t.ejectedUntil;
    t.ejectedUntil = 0;
    t.consecutive5xx = 0;
    t.consecutiveGateway = 0;
    this.ejectedCount--;
    this.emit('uneject', { endpoint });
    return false;
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [endpoint, t] of this.trackers) {
      if (this.refresh(endpoint, t) || t.multiplier === 0) continue;
      if (now - t.admittedSince >= this.options.interval) {
        t.multiplier--;
        t.admittedSince = now;
      }
    }
  }
}
