import { describe, expect, it } from 'vitest';
import { compileRate, gcraLease, gcraRemaining, gcraTake } from './gcra.js';

/** Drives one bucket through requests at the given times (ms); returns which passed. */
function run(rate: { requests: number; per: number; burst: number }, times: number[]): boolean[] {
  const g = compileRate(rate);
  let tat = 0;
  return times.map((t) => {
    const r = gcraTake(g, tat, t);
    if (r < 0) return false;
    tat = r;
    return true;
  });
}

describe('GCRA token bucket', () => {
  it.each([
    // [name, rate, request times (ms), passed]
    ['a full bucket passes burst at once, then refuses', { requests: 10, per: 1000, burst: 3 }, [0, 0, 0, 0], [true, true, true, false]],
    ['then one per interval (100 ms)', { requests: 10, per: 1000, burst: 3 }, [0, 0, 0, 99, 100, 150, 200], [true, true, true, false, true, false, true]],
    ['burst 1: exactly one per interval', { requests: 2, per: 1000, burst: 1 }, [0, 1, 499, 500, 999, 1000], [true, false, false, true, false, true]],
    ['refills to burst, never beyond', { requests: 10, per: 1000, burst: 2 }, [0, 0, 10_000, 10_000, 10_000], [true, true, true, true, false]],
    ['a refused request takes nothing', { requests: 1, per: 1000, burst: 1 }, [0, 10, 20, 999, 1000], [true, false, false, false, true]],
    ['sub-millisecond intervals', { requests: 1000, per: 1, burst: 1 }, [0, 0.001, 0.0005, 0.002], [true, true, false, true]],
  ])('%s', (_name, rate, times, want) => {
    expect(run(rate, times)).toEqual(want);
  });

  it('admits burst + rate × time over a long run at three times the rate', () => {
    const g = compileRate({ requests: 100, per: 1000, burst: 20 });
    let tat = 0;
    let admitted = 0;
    for (let i = 0; i < 3000; i++) { // 300/s for 10 s
      const r = gcraTake(g, tat, i * (1000 / 300));
      if (r >= 0) { tat = r; admitted++; }
    }
    expect(admitted).toBeGreaterThanOrEqual(20 + 999);
    expect(admitted).toBeLessThanOrEqual(20 + 1000);
  });

  it('says how long to wait and how many remain', () => {
    const g = compileRate({ requests: 10, per: 1000, burst: 3 });
    expect(gcraRemaining(g, 0, 0)).toBe(3);
    let tat = gcraTake(g, 0, 0);
    expect(gcraRemaining(g, tat, 0)).toBe(2);
    tat = gcraTake(g, tat, 0);
    tat = gcraTake(g, tat, 0);
    expect(gcraRemaining(g, tat, 0)).toBe(0);
    expect(-gcraTake(g, tat, 0)).toBeCloseTo(100, 6);
    expect(-gcraTake(g, tat, 40)).toBeCloseTo(60, 6);
    expect(gcraRemaining(g, tat, 250)).toBe(2);
    expect(gcraRemaining(g, tat, 10_000)).toBe(3);
  });

  it('a lease of n grants what n takes in a row would, and says when n more fit', () => {
    const g = compileRate({ requests: 10, per: 1000, burst: 5 });
    for (const [tat0, now, want] of [[0, 0, 3], [0, 0, 9], [250, 0, 4], [700, 200, 2], [0, 50, 0], [1000, 0, 1]] as const) {
      let tat: number = tat0;
      let took = 0;
      for (let i = 0; i < want; i++) { const r = gcraTake(g, tat, now); if (r < 0) break; tat = r; took++; }
      const lease = gcraLease(g, tat0, now, want);
      expect([lease.granted, lease.tat]).toEqual([took, Math.max(tat, now)]);
      // `want` more fit exactly after retryMs, and not a moment before (when it has to wait at all).
      const next = Math.min(want, g.burst);
      const fits = (t: number): boolean => gcraLease(g, lease.tat, t, next).granted === next;
      expect(fits(now + lease.retryMs)).toBe(true);
      if (lease.retryMs > 0) expect(fits(now + lease.retryMs - 1)).toBe(false);
    }
  });
});
