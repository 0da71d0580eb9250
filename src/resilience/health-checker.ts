/**
 * Active health checks per upstream (SPEC §5). The checker owns the schedule and the thresholds; the
 * probe itself (an HTTP GET of the policy's `path`) is injected, so this file stays pure.
 *
 * - An endpoint becomes unhealthy after `unhealthyThreshold` consecutive failed probes and healthy
 *   again after `healthyThreshold` consecutive successes. A probe that rejects, answers false or
 *   outlives `timeout` is a failure.
 * - Every endpoint starts healthy. Starting unhealthy would turn every start and every reload of a
 *   changed upstream into 503 `UH` for up to `interval × healthyThreshold`, although the endpoints
 *   are usually fine; a dead one is found by its first `unhealthyThreshold` probes (and, between
 *   probes, by outlier detection and retries).
 * - Jitter: the first probe of each endpoint runs after a uniform random delay in [0, interval), so
 *   endpoints (and the sidecars of many pods) do not probe in lockstep; each following probe runs
 *   `interval × (1 ± jitter)` (uniform, default ±10%) after the previous one *finished*, so probes of
 *   one endpoint never overlap.
 * - Timers are unref'd; `stop()` clears every timer and aborts probes in flight (via their signal).
 */
import { EventEmitter } from 'node:events';
import { systemClock, type Clock, type RandomSource } from './clock.js';

export interface HealthCheckOptions {
  /** Time between probes of one endpoint, ms (jittered). Policy default 5 000. */
  interval: number;
  /** A probe not settled by then is a failure and its signal is aborted, ms. Policy default 1 000. */
  timeout: number;
  /** Consecutive failures that make a healthy endpoint unhealthy. Policy default 3. */
  unhealthyThreshold: number;
  /** Consecutive successes that make an unhealthy endpoint healthy. Policy default 2. */
  healthyThreshold: number;
  /** Spread of each later probe around `interval`, as a fraction (0.1 = ±10%). Default 0.1. */
  jitter?: number;
}

/** Resolves true when `endpoint` is healthy. Must honour `timeoutMs` and `signal`; may reject. */
export type Probe = (endpoint: string, timeoutMs: number, signal: AbortSignal) => Promise<boolean>;

export interface HealthChange {
  readonly endpoint: string;
  readonly healthy: boolean;
}

export interface HealthCheckerEvents {
  change: [HealthChange];
  probe: [{ readonly endpoint: string; readonly ok: boolean; readonly durationMs: number }];
}

/** One endpoint's row in /clusters. */
export interface EndpointHealth {
  readonly endpoint: string;
  readonly healthy: boolean;
  readonly consecutiveFailures: number;
  readonly consecutiveSuccesses: number;
  /** Wall-clock epoch ms of the last finished probe. */
  readonly lastProbeAt?: number;
}

interface Target {
  healthy: boolean;
  failures: number;
  successes: number;
  lastProbeAt?: number;
  timer?: NodeJS.Timeout | undefined;
  inflight?: AbortController | undefined;
  /** The probe's timeout; held here so `stop()` clears it synchronously. */
  guard?: NodeJS.Timeout | undefined;
}

const DEFAULT_JITTER = 0.1;

export class HealthChecker extends EventEmitter<HealthCheckerEvents> {
  private readonly probe: Probe;
  private readonly options: HealthCheckOptions;
  private readonly random: RandomSource;
  private readonly clock: Clock;
  private readonly targets = new Map<string, Target>();
  private running = false;

  constructor(endpoints: Iterable<string>, probe: Probe, options: HealthCheckOptions, deps: { random?: RandomSource; clock?: Clock } = {}) {
    super();
    this.probe = probe;
    this.options = options;
    this.random = deps.random ?? Math.random;
    this.clock = deps.clock ?? systemClock;
    this.setEndpoints(endpoints);
  }

  /** Schedules the first probe of every endpoint. Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (const [endpoint, t] of this.targets) this.schedule(endpoint, t, this.firstDelay());
  }

  /** Clears every timer and aborts probes in flight; health state is kept for a later `start()`. */
  stop(): void {
    this.running = false;
    for (const t of this.targets.values()) this.halt(t);
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Unknown endpoints are healthy: the checker has no evidence against them. */
  isHealthy(endpoint: string): boolean {
    return this.targets.get(endpoint)?.healthy ?? true;
  }

  /** Replaces the endpoint set: kept endpoints keep their state, new ones start healthy. */
  setEndpoints(endpoints: Iterable<string>): void {
    const wanted = new Set(endpoints);
    for (const [endpoint, t] of this.targets) {
      if (wanted.has(endpoint)) continue;
      this.halt(t);
      this.targets.delete(endpoint);
    }
    for (const endpoint of wanted) {
      if (this.targets.has(endpoint)) continue;
      const t: Target = { healthy: true, failures: 0, successes: 0 };
      this.targets.set(endpoint, t);
      if (this.running) this.schedule(endpoint, t, this.firstDelay());
    }
  }

  snapshot(): EndpointHealth[] {
    return [...this.targets].map(([endpoint, t]) => ({
      endpoint,
      healthy: t.healthy,
      consecutiveFailures: t.failures,
      consecutiveSuccesses: t.successes,
      ...(t.lastProbeAt === undefined ? {} : { lastProbeAt: t.lastProbeAt }),
    }));
  }

  private firstDelay(): number {
    return this.random() * this.options.interval;
  }

  private nextDelay(): number {
    const jitter = this.options.jitter ?? DEFAULT_JITTER;
    return this.options.interval * (1 + jitter * (2 * this.random() - 1));
  }

  private schedule(endpoint: string, t: Target, delayMs: number): void {
    t.timer = setTimeout(() => {
      t.timer = undefined;
      void this.check(endpoint, t);
    }, delayMs);
    t.timer.unref();
  }

  private halt(t: Target): void {
    clearTimeout(t.timer);
    clearTimeout(t.guard);
    t.timer = undefined;
    t.guard = undefined;
    t.inflight?.abort(new Error('health checking stopped'));
    t.inflight = undefined;
  }

  private async check(endpoint: string, t: Target): Promise<void> {
    const started = this.clock.now();
    const ok = await this.probeOnce(endpoint, t);
    // Stopped, or the endpoint was removed (or re-added as a new target) while the probe ran.
    if (!this.running || this.targets.get(endpoint) !== t) return;
    t.lastProbeAt = this.clock.wall();
    this.emit('probe', { endpoint, ok, durationMs: this.clock.now() - started });
    this.apply(endpoint, t, ok);
    this.schedule(endpoint, t, this.nextDelay());
  }

  private async probeOnce(endpoint: string, t: Target): Promise<boolean> {
    const ac = new AbortController();
    t.inflight = ac;
    const { timeout } = this.options;
    const guard = setTimeout(() => ac.abort(new Error(`health check timed out after ${timeout}ms`)), timeout);
    guard.unref();
    t.guard = guard;
    const aborted = new Promise<false>((resolve) => ac.signal.addEventListener('abort', () => resolve(false), { once: true }));
    try {
      const probed = Promise.resolve().then(() => this.probe(endpoint, timeout, ac.signal));
      return (await Promise.race([probed, aborted])) === true;
    } catch {
      return false;
    } finally {
      clearTimeout(guard);
      if (t.guard === guard) t.guard = undefined;
      // Settles `aborted` and tells a probe that lost the race to give up.
      if (!ac.signal.aborted) ac.abort(new Error('health check finished'));
      if (t.inflight === ac) t.inflight = undefined;
    }
  }

  private apply(endpoint: string, t: Target, ok: boolean): void {
    if (ok) {
      t.successes++;
      t.failures = 0;
      if (!t.healthy && t.successes >= this.options.healthyThreshold) {
        t.healthy = true;
        this.emit('change', { endpoint, healthy: true });
      }
    } else {
      t.failures++;
      t.successes = 0;
      if (t.healthy && t.failures >= this.options.unhealthyThreshold) {
        t.healthy = false;
        this.emit('change', { endpoint, healthy: false });
      }
    }
  }
}
