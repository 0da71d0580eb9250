import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { UpstreamPolicy } from '../config/index.js';
import type { Outcome } from './outcome.js';
import { OutlierDetector, type EjectionEvent, type OutlierDetectionOptions } from './outlier-detector.js';

const fromPolicy: OutlierDetectionOptions = {} as NonNullable<UpstreamPolicy['outlierDetection']>;
void fromPolicy;

const OPTIONS: OutlierDetectionOptions = { consecutive5xx: 5, interval: 10_000, baseEjectionTime: 30_000, maxEjectionPercent: 100 };
const endpoints = (n: number): string[] => Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}:80`);
const A = '10.0.0.1:80';
const B = '10.0.0.2:80';

function make(n: number, options: Partial<OutlierDetectionOptions> = {}): { od: OutlierDetector; ejections: EjectionEvent[]; unejected: string[] } {
  const od = new OutlierDetector(endpoints(n), { ...OPTIONS, ...options });
  const ejections: EjectionEvent[] = [];
  const unejected: string[] = [];
  od.on('eject', (e) => ejections.push(e));
  od.on('uneject', (e) => unejected.push(e.endpoint));
  return { od, ejections, unejected };
}

function feed(od: OutlierDetector, endpoint: string, outcomes: readonly Outcome[]): void {
  for (const o of outcomes) od.record(endpoint, o);
}

describe('OutlierDetector', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('tells when an ejected endpoint is re-admitted (0 when it is not ejected)', () => {
    const { od } = make(4, { consecutive5xx: 1 });
    expect(od.readmissionAt(A)).toBe(0);
    const t0 = performance.now();
    od.record(A, 503);
    expect(od.readmissionAt(A)).toBe(t0 + 30_000);
    vi.advanceTimersByTime(30_000);
    expect(od.readmissionAt(A)).toBe(0);
    expect(od.isEjected(A)).toBe(false);
    od.dispose();
  });

  it('ejects after consecutive5xx failures in a row, and a success breaks the run', () => {
    const { od, ejections } = make(4);
    feed(od, A, [500, 503, 'timeout', 'reset', 200, 500, 500, 500, 500]);
    expect(od.isEjected(A)).toBe(false);
    od.record(A, 'connect-failure');
    expect(od.isEjected(A)).toBe(true);
    expect(ejections).toEqual([{ endpoint: A, reason: 'consecutive-5xx', durationMs: 30_000, ejections: 1 }]);
    od.dispose();
  });

  it('treats 4xx as success', () => {
    const { od } = make(4, { consecutive5xx: 2 });
    feed(od, A, [500, 404, 500, 409, 500, 429]);
    expect(od.isEjected(A)).toBe(false);
    od.dispose();
  });

  it('counts gateway errors (502/503/504, connect failure, reset, timeout) separately', () => {
    const { od, ejections } = make(4, { consecutive5xx: 100, consecutiveGatewayErrors: 3 });
    feed(od, A, [502, 'connect-failure', 500, 503, 'reset']); // the 500 breaks the gateway run
    expect(od.isEjected(A)).toBe(false);
    feed(od, A, ['timeout']);
    expect(od.isEjected(A)).toBe(true);
    expect(ejections[0]!.reason).toBe('consecutive-gateway-errors');
    od.dispose();
  });

  it('ejects for baseEjectionTime × ejections, capped at maxEjectionTime', () => {
    const { od, ejections, unejected } = make(4, { consecutive5xx: 1, baseEjectionTime: 100_000, interval: 1_000_000 });
    const durations: number[] = [];
    for (let i = 0; i < 5; i++) {
      od.record(A, 500);
      const d = ejections.at(-1)!.durationMs;
      durations.push(d);
      vi.advanceTimersByTime(d - 1);
      expect(od.isEjected(A)).toBe(true);
      vi.advanceTimersByTime(1);
      expect(od.isEjected(A)).toBe(false);
    }
    expect(durations).toEqual([100_000, 200_000, 300_000, 300_000, 300_000]);
    expect(unejected).toHaveLength(5);
    od.dispose();
  });

  it('decays the multiplier by one per interval the endpoint stays admitted', () => {
    const { od, ejections } = make(4, { consecutive5xx: 1 });
    od.record(A, 500);
    vi.advanceTimersByTime(30_000);
    od.record(A, 500); // straight back out: 2 × base
    expect(ejections.at(-1)!.durationMs).toBe(60_000);
    vi.advanceTimersByTime(60_000);
    expect(od.isEjected(A)).toBe(false);
    vi.advanceTimersByTime(20_000); // two full intervals admitted: multiplier 2 → 0
    od.record(A, 500);
    expect(ejections.at(-1)!.durationMs).toBe(30_000);
    expect(ejections.at(-1)!.ejections).toBe(3);
    od.dispose();
  });

  it('re-admits on the sweep without any read, emitting uneject', () => {
    const { od, unejected } = make(4, { consecutive5xx: 1 });
    vi.advanceTimersByTime(1_000);
    od.record(A, 503);
    vi.advanceTimersByTime(38_999); // the ejection ends at 31s; the sweep after that runs at 40s
    expect(unejected).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(unejected).toEqual([A]);
    od.dispose();
  });

  it.each([
    // endpoints, percent, how many may be out at once
    [10, 30, 3],
    [10, 10, 1],
    [3, 10, 1], // at least one is always ejectable
    [1, 10, 1],
    [4, 50, 2],
    [3, 50, 1], // rounds down: never more than the percentage
    [3, 100 / 3, 1],
    [7, 100, 7],
    [5, 0, 0], // 0% disables ejection
  ])('with %i endpoints and maxEjectionPercent %d, ejects at most %i', (n, pct, max) => {
    const { od } = make(n, { consecutive5xx: 1, maxEjectionPercent: pct });
    const overflow = vi.fn();
    od.on('overflow', overflow);
    for (const e of endpoints(n)) od.record(e, 500);
    expect(od.ejected).toBe(max);
    expect(overflow).toHaveBeenCalledTimes(n - max);
    od.dispose();
  });

  it('ejects an endpoint refused by the cap on its next error once room frees up', () => {
    const { od } = make(2, { consecutive5xx: 2, maxEjectionPercent: 10 });
    feed(od, A, [500, 500]);
    feed(od, B, [500, 500]);
    expect([od.isEjected(A), od.isEjected(B)]).toEqual([true, false]);
    vi.advanceTimersByTime(30_000);
    od.record(B, 500);
    expect([od.isEjected(A), od.isEjected(B)]).toEqual([false, true]);
    od.dispose();
  });

  it('ignores answers recorded while ejected and restarts the counters on re-admission', () => {
    const { od } = make(4, { consecutive5xx: 3 });
    feed(od, A, [500, 500, 500]);
    feed(od, A, [500, 500, 500, 500]); // in-flight stragglers
    vi.advanceTimersByTime(30_000);
    feed(od, A, [500, 500]);
    expect(od.isEjected(A)).toBe(false);
    od.record(A, 500);
    expect(od.isEjected(A)).toBe(true);
    od.dispose();
  });

  it('snapshots every endpoint for /clusters', () => {
    const { od } = make(2, { consecutive5xx: 2 });
    const wallStart = Date.now();
    feed(od, A, [500, 500]);
    od.record(B, 502);
    vi.advanceTimersByTime(1_000);
    expect(od.snapshot()).toEqual([
      { endpoint: A, ejected: true, ejectedUntil: wallStart + 30_000, ejections: 1, consecutive5xx: 0, consecutiveGatewayErrors: 0 },
      { endpoint: B, ejected: false, ejections: 0, consecutive5xx: 1, consecutiveGatewayErrors: 1 },
    ]);
    od.dispose();
  });

  it('keeps state of kept endpoints when the set changes, and ignores unknown ones', () => {
    const { od } = make(2, { consecutive5xx: 1 });
    od.record(A, 500);
    od.record('10.9.9.9:80', 500);
    od.setEndpoints([A, '10.0.0.3:80']);
    expect(od.isEjected(A)).toBe(true);
    expect(od.snapshot().map((s) => s.endpoint)).toEqual([A, '10.0.0.3:80']);
    od.setEndpoints(['10.0.0.3:80']);
    expect(od.ejected).toBe(0);
    od.dispose();
  });

  it('dispose clears its timer', () => {
    const { od } = make(2);
    expect(vi.getTimerCount()).toBe(1);
    od.dispose();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('OutlierDetector timers (real)', () => {
  it('never holds the event loop open', () => {
    const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timeouts();
    const od = new OutlierDetector(endpoints(3), OPTIONS);
    expect(timeouts()).toBe(before);
    od.dispose();
  });
});
