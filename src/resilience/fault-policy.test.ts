import { describe, expect, it } from 'vitest';
import type { RoutePolicy } from '../config/index.js';
import { FaultPolicy, mergeDecisions, NO_FAULT, type FaultSpec } from './fault-policy.js';

const fromPolicy: FaultSpec = {} as NonNullable<RoutePolicy['fault']>;
void fromPolicy;

/** mulberry32: a small seeded PRNG, so the 1,000-decision test is deterministic. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rate(policy: FaultPolicy, n: number, pick: (d: ReturnType<FaultPolicy['decide']>) => boolean): number {
  let hits = 0;
  for (let i = 0; i < n; i++) if (pick(policy.decide())) hits++;
  return (hits / n) * 100;
}

describe('FaultPolicy', () => {
  it('aborts 50% of 1,000 requests within ±5 points (seeded, so it cannot flake)', () => {
    for (const seed of [1, 2, 3, 42, 2026]) {
      const policy = new FaultPolicy({ abort: { status: 503, percent: 50 } }, seeded(seed));
      expect(Math.abs(rate(policy, 1_000, (d) => d.abortStatus === 503) - 50)).toBeLessThanOrEqual(5);
    }
  });

  it('hits its percentages with Math.random: 100k decisions within ±1 point (6 sd)', () => {
    for (const percent of [10, 50, 90]) {
      const policy = new FaultPolicy({ delay: { fixed: 2_000, percent } });
      expect(Math.abs(rate(policy, 100_000, (d) => d.delayMs === 2_000) - percent)).toBeLessThan(1);
    }
  });

  it('honours fractional percentages: 0.5% of 200k ≈ 1,000 hits (± 6 sd)', () => {
    const policy = new FaultPolicy({ abort: { status: 500, percent: 0.5 } }, seeded(7));
    const hits = (rate(policy, 200_000, (d) => d.abortStatus === 500) / 100) * 200_000;
    expect(Math.abs(hits - 1_000)).toBeLessThan(190);
  });

  it('draws delay and abort independently', () => {
    const policy = new FaultPolicy({ delay: { fixed: 10, percent: 50 }, abort: { status: 503, percent: 50 } }, seeded(9));
    const both = rate(policy, 100_000, (d) => d.delayMs === 10 && d.abortStatus === 503);
    expect(Math.abs(both - 25)).toBeLessThan(1);
  });

  it('maps random() × 100 < percent exactly at the edges', () => {
    expect(new FaultPolicy({ abort: { status: 503, percent: 50 } }, () => 0.4999).decide()).toEqual({ abortStatus: 503 });
    expect(new FaultPolicy({ abort: { status: 503, percent: 50 } }, () => 0.5).decide()).toBe(NO_FAULT);
    expect(new FaultPolicy({ abort: { status: 503, percent: 0 } }, () => 0).decide()).toBe(NO_FAULT);
    expect(new FaultPolicy({ delay: { fixed: 5, percent: 100 } }, () => 0.999999).decide()).toEqual({ delayMs: 5 });
  });

  it('decides nothing without a delay or an abort', () => {
    expect(new FaultPolicy({}).decide()).toBe(NO_FAULT);
  });
});

describe('mergeDecisions', () => {
  it.each([
    [[], NO_FAULT],
    [[NO_FAULT, NO_FAULT], NO_FAULT],
    [[{ delayMs: 100 }, { delayMs: 50 }], { delayMs: 150 }],
    [[{ abortStatus: 503 }, { abortStatus: 500, delayMs: 0 }], { abortStatus: 503, delayMs: 0 }],
    [[{ delayMs: 10 }, { abortStatus: 429 }], { delayMs: 10, abortStatus: 429 }],
  ])('%j → %j', (decisions, expected) => {
    expect(mergeDecisions(decisions)).toEqual(expected);
  });
});
