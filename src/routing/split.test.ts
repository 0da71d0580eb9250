/**
 * Statistical tests are seeded (a failure reproduces exactly), and each tolerance sits at least five
 * standard deviations from the expected value, so *any* seed passes unless the behaviour is wrong:
 * the seed buys reproducibility, not a lucky pass. The numbers are in each test.
 */
import { describe, expect, it } from 'vitest';
import { compileSplit } from './split.js';
import { mulberry32 } from './seeded-random.js';


describe('compileSplit', () => {
  it('maps buckets onto cumulative weights', () => {
    const s = compileSplit([{ value: 'v1', weight: 90 }, { value: 'v2', weight: 10 }]);
    expect(s.pick(0)).toBe('v1');
    expect(s.pick(89.999)).toBe('v1');
    expect(s.pick(90)).toBe('v2');
    expect(s.pick(99.999)).toBe('v2');
  });
  it('a lone destination takes everything', () => {
    expect(compileSplit([{ value: 'only', weight: 0 }]).pick(55)).toBe('only');
  });
  it('skips zero-weight destinations', () => {
    const s = compileSplit([{ value: 'a', weight: 0 }, { value: 'b', weight: 100 }]);
    for (let b = 0; b < 100; b++) expect(s.pick(b)).toBe('b');
  });
  it('rejects an empty split', () => {
    expect(() => compileSplit([])).toThrow();
  });

  // 3,000 picks of a 10 % destination: sd = √(0.1·0.9/3000) = 0.55 points; ±3 points is 5.5 sd.
  it.each([1, 2, 3, 4, 5])('90/10 over 3,000 random picks lands within ±3 points (seed %i)', (seed) => {
    const rnd = mulberry32(seed);
    const s = compileSplit([{ value: 'v1', weight: 90 }, { value: 'v2', weight: 10 }]);
    let v2 = 0;
    for (let i = 0; i < 3000; i++) if (s.pick(rnd() * 100) === 'v2') v2++;
    expect(Math.abs((v2 / 3000) * 100 - 10)).toBeLessThanOrEqual(3);
  });

  it('maps integer buckets exactly: 90 of 100 buckets to a 90 weight', () => {
    const s = compileSplit([{ value: 'v1', weight: 90 }, { value: 'v2', weight: 10 }]);
    let v1 = 0;
    for (let b = 0; b < 100; b++) if (s.pick(b) === 'v1') v1++;
    expect(v1).toBe(90);
  });
});

describe('pickEligible (renormalised split)', () => {
  const s = compileSplit([{ value: 'a', weight: 50 }, { value: 'b', weight: 30 }, { value: 'c', weight: 20 }]);
  it('renormalises over the eligible destinations', () => {
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let b = 0; b < 100; b += 0.01) counts[s.pickEligible(b, (v) => v !== 'a')!]!++;
    // b:c = 30:20 → 60 % / 40 % of 10,000 evenly spaced buckets (exact up to boundary rounding).
    expect(counts['a']).toBe(0);
    expect(Math.abs(counts['b']! - 6000)).toBeLessThanOrEqual(2);
    expect(Math.abs(counts['c']! - 4000)).toBeLessThanOrEqual(2);
  });
  it('equals pick when everything is eligible', () => {
    for (let b = 0; b < 100; b += 0.5) expect(s.pickEligible(b, () => true)).toBe(s.pick(b));
  });
  it('is undefined when nothing is eligible', () => {
    expect(s.pickEligible(10, () => false)).toBeUndefined();
    expect(compileSplit([{ value: 'x', weight: 100 }]).pickEligible(10, () => false)).toBeUndefined();
  });
  it('never sends traffic to a zero-weight destination', () => {
    const z = compileSplit([{ value: 'zero', weight: 0 }, { value: 'b', weight: 100 }]);
    expect(z.pickEligible(5, (v) => v === 'zero')).toBeUndefined();
  });
});
