import { describe, expect, it } from 'vitest';
import { tierShares } from './tier-shares.js';

const shares = (healthy: number[], total: number[]): number[] => {
  const out = new Array<number>(healthy.length).fill(0);
  tierShares(healthy, total, out);
  return out.map((x) => Math.round(x * 100) / 100);
};

describe('tierShares (Envoy priority load, overprovisioning 1.4)', () => {
  it.each([
    // [healthy per tier, total per tier, shares in percent]
    ['all healthy: the nearest tier takes everything', [2, 2, 2], [2, 2, 2], [100, 0, 0]],
    ['a zone at 50 % keeps 70 %, the region takes the rest', [1, 2, 2], [2, 2, 2], [70, 30, 0]],
    ['above 1/1.4 of the endpoints healthy a tier keeps all', [3, 4], [4, 4], [100, 0]],
    ['a zone all down: the region takes everything', [0, 2, 2], [2, 2, 2], [0, 100, 0]],
    ['zone down, region at 50 %: 70 % to the region, 30 % to failover', [0, 1, 2], [2, 2, 2], [0, 70, 30]],
    ['spill skips an empty tier', [1, 0, 2], [2, 0, 2], [70, 0, 30]],
    ['three tiers partly healthy: filled in order', [1, 1, 1, 4], [4, 4, 4, 4], [35, 35, 30, 0]],
    ['total health under 100: scaled to fill 100 %', [1, 1], [5, 5], [50, 50]],
    ['one healthy endpoint left in the last tier takes all', [0, 0, 1], [2, 2, 3], [0, 0, 100]],
    ['nothing healthy anywhere: all zero (503 UH)', [0, 0], [2, 2], [0, 0]],
    ['one tier', [3], [10], [100]],
  ])('%s', (_name, healthy, total, want) => {
    expect(shares(healthy as number[], total as number[])).toEqual(want);
  });

  it('always sums to 100 when anything is healthy', () => {
    for (let seed = 1; seed < 500; seed++) {
      const n = 1 + (seed % 5);
      const total = Array.from({ length: n }, (_, i) => (seed * (i + 3)) % 7);
      const healthy = total.map((t, i) => (t === 0 ? 0 : (seed * (i + 1)) % (t + 1)));
      const out = new Array<number>(n).fill(0);
      tierShares(healthy, total, out);
      const sum = out.reduce((a, b) => a + b, 0);
      if (healthy.some((h) => h > 0)) expect(sum).toBeCloseTo(100, 9);
      else expect(sum).toBe(0);
      for (const x of out) expect(x).toBeGreaterThanOrEqual(0);
    }
  });
});
