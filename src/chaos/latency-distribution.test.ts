import { describe, expect, it } from 'vitest';
import { latencySampler } from './latency-distribution.js';
import { percentile } from './samples.js';

const draw = (n: number, f: () => number): Float64Array => Float64Array.from({ length: n }, f).sort();

describe('latencySampler', () => {
  it('fixed and absent', () => {
    expect(latencySampler({ fixed: 12 })()).toBe(12);
    expect(latencySampler(undefined)()).toBe(0);
  });

  it('uniform stays within its bounds and covers them', () => {
    const xs = draw(5000, latencySampler({ min: 10, max: 20 }));
    expect(xs[0]).toBeGreaterThanOrEqual(10);
    expect(xs[xs.length - 1]).toBeLessThanOrEqual(20);
    expect(percentile(xs, 50)).toBeGreaterThan(14);
    expect(percentile(xs, 50)).toBeLessThan(16);
  });

  it('the skewed distribution lands its median on p50 and its 99th percentile on p99', () => {
    // 20 000 draws: the sample median and p99 of a log-normal are within a few percent of the truth.
    const xs = draw(20_000, latencySampler({ p50: 10, p99: 100 }));
    expect(percentile(xs, 50)).toBeGreaterThan(9);
    expect(percentile(xs, 50)).toBeLessThan(11);
    expect(percentile(xs, 99)).toBeGreaterThan(80);
    expect(percentile(xs, 99)).toBeLessThan(125);
    expect(xs[0]).toBeGreaterThan(0);
  });
});
