import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { UpstreamPolicy } from '../config/index.js';
import { HealthChecker, type HealthChange, type HealthCheckOptions, type Probe } from './health-checker.js';

const fromPolicy: HealthCheckOptions = {} as NonNullable<UpstreamPolicy['healthCheck']>;
void fromPolicy;

const OPTIONS: HealthCheckOptions = { interval: 5_000, timeout: 1_000, unhealthyThreshold: 3, healthyThreshold: 2 };
const A = '10.0.0.1:80';
const B = '10.0.0.2:80';

/** A probe whose answers per endpoint are scripted; unscripted probes succeed. */
function scripted(answers: Record<string, boolean[]>): Probe & { calls: string[] } {
  const calls: string[] = [];
  const probe = async (endpoint: string): Promise<boolean> => {
    calls.push(endpoint);
    return answers[endpoint]?.shift() ?? true;
  };
  return Object.assign(probe, { calls });
}

function make(probe: Probe, options: Partial<HealthCheckOptions> = {}, endpoints = [A]): { hc: HealthChecker; changes: HealthChange[] } {
  // random 0.5: first probe at interval/2, later ones exactly at interval (no jitter).
  const hc = new HealthChecker(endpoints, probe, { ...OPTIONS, ...options }, { random: () => 0.5 });
  const changes: HealthChange[] = [];
  hc.on('change', (c) => changes.push(c));
  return { hc, changes };
}

describe('HealthChecker', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('starts healthy and probes nothing before start()', async () => {
    const probe = scripted({});
    const { hc } = make(probe);
    expect(hc.isHealthy(A)).toBe(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(probe.calls).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('turns unhealthy after unhealthyThreshold failures and healthy after healthyThreshold successes', async () => {
    const probe = scripted({ [A]: [false, false, true, false, false, false, true, true] });
    const { hc, changes } = make(probe);
    hc.start();
    await vi.advanceTimersByTimeAsync(2_500); // first probe at interval × 0.5
    expect(probe.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(5_000 * 4); // probes 2-5: fail, ok, fail, fail
    expect(hc.isHealthy(A)).toBe(true); // the success broke the run
    await vi.advanceTimersByTimeAsync(5_000); // third failure in a row
    expect(hc.isHealthy(A)).toBe(false);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(hc.isHealthy(A)).toBe(false);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(hc.isHealthy(A)).toBe(true);
    expect(changes).toEqual([{ endpoint: A, healthy: false }, { endpoint: A, healthy: true }]);
    hc.stop();
  });

  it('counts a rejected probe and a probe that outlives the timeout as failures, aborting the latter', async () => {
    const signals: AbortSignal[] = [];
    let n = 0;
    const probe: Probe = (_e, timeoutMs, signal) => {
      expect(timeoutMs).toBe(1_000);
      signals.push(signal);
      return ++n % 2 ? Promise.reject(new Error('ECONNREFUSED')) : new Promise<boolean>(() => {});
    };
    const { hc } = make(probe, { unhealthyThreshold: 2 });
    hc.start();
    await vi.advanceTimersByTimeAsync(2_500);
    expect(hc.snapshot()[0]).toMatchObject({ healthy: true, consecutiveFailures: 1 });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(signals[1]!.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(signals[1]!.aborted).toBe(true);
    expect(hc.isHealthy(A)).toBe(false);
    hc.stop();
  });

  it('schedules the next probe an interval after the previous one finished: probes never overlap', async () => {
    let active = 0;
    let maxActive = 0;
    const started: number[] = [];
    const probe: Probe = async () => {
      started.push(Date.now());
      maxActive = Math.max(maxActive, ++active);
      await new Promise((r) => setTimeout(r, 800));
      active--;
      return true;
    };
    const { hc } = make(probe);
    const t0 = Date.now();
    hc.start();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(maxActive).toBe(1);
    expect(started.map((t) => t - t0)).toEqual([2_500, 8_300, 14_100, 19_900]);
    hc.stop();
  });

  it('keeps every later probe within interval ± jitter', async () => {
    for (const [random, expected] of [[0, 4_500], [0.999999, 5_500], [0.25, 4_750]] as const) {
      const starts: number[] = [];
      const hc = new HealthChecker([A], async () => { starts.push(Date.now()); return true; }, OPTIONS, { random: () => random });
      hc.start();
      await vi.advanceTimersByTimeAsync(12_000);
      expect(starts[1]! - starts[0]!).toBeCloseTo(expected, -1);
      hc.stop();
    }
  });

  it('spreads first probes uniformly over the first interval', async () => {
    const endpoints = Array.from({ length: 400 }, (_, i) => `10.0.${i >> 8}.${i & 255}:80`);
    const firsts = new Map<string, number>();
    const t0 = Date.now();
    const hc = new HealthChecker(endpoints, async (e) => { if (!firsts.has(e)) firsts.set(e, Date.now() - t0); return true; }, OPTIONS);
    hc.start();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(firsts.size).toBe(400);
    const quarters = [0, 0, 0, 0];
    for (const t of firsts.values()) quarters[Math.min(3, Math.floor(t / 1_250))]!++;
    // 100 expected per quarter; binomial sd ≈ 8.7, so ±45 is over 5 sd.
    for (const q of quarters) expect(q).toBeGreaterThan(55);
    hc.stop();
  });

  it('stop() clears every timer, aborts probes in flight and ignores their late answers', async () => {
    let signal: AbortSignal | undefined;
    let answer!: (ok: boolean) => void;
    const probe: Probe = (_e, _t, s) => { signal = s; return new Promise((r) => { answer = r; }); };
    const { hc, changes } = make(probe, { unhealthyThreshold: 1 }, [A, B]);
    hc.start();
    await vi.advanceTimersByTimeAsync(2_500);
    hc.stop();
    expect(signal!.aborted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    answer(false);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(changes).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('follows endpoint changes: new ones start healthy and are probed, removed ones stop', async () => {
    const probe = scripted({ [B]: [false] });
    const { hc } = make(probe, { unhealthyThreshold: 1 });
    hc.start();
    hc.setEndpoints([A, B]);
    await vi.advanceTimersByTimeAsync(2_500);
    expect(hc.isHealthy(B)).toBe(false);
    hc.setEndpoints([B]);
    probe.calls.length = 0;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(new Set(probe.calls)).toEqual(new Set([B]));
    expect(hc.snapshot().map((s) => s.endpoint)).toEqual([B]);
    expect(vi.getTimerCount()).toBe(1);
    hc.stop();
  });
});

describe('HealthChecker timers (real)', () => {
  it('never holds the event loop open', () => {
    const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timeouts();
    const hc = new HealthChecker([A, B], async () => true, OPTIONS);
    hc.start();
    expect(timeouts()).toBe(before);
    hc.stop();
  });
});
