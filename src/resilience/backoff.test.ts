import { describe, expect, it } from 'vitest';
import type { RoutePolicy } from '../config/index.js';
import { RetryBackoff, parseRetryAfter, type BackoffOptions } from './backoff.js';

const fromPolicy: BackoffOptions = {} as NonNullable<RoutePolicy['retries']>['backoff'];
void fromPolicy;

const SAMPLES = 20_000;

/** The n-th delay (0-based) of `SAMPLES` fresh sequences. */
function nthDelays(backoff: RetryBackoff, n: number): number[] {
  return Array.from({ length: SAMPLES }, () => {
    const seq = backoff.start();
    let d = 0;
    for (let i = 0; i <= n; i++) d = seq.next();
    return d;
  });
}

describe('RetryBackoff (full jitter over cockatiel)', () => {
  const backoff = new RetryBackoff({ base: 25, max: 250 });

  it.each([
    [0, 25], [1, 50], [2, 100], [3, 200], [4, 250], [5, 250], [12, 250],
  ])('retry %i waits in [0, %i)', (n, ceiling) => {
    const delays = nthDelays(backoff, n);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(ceiling);
    expect(delays.every(Number.isInteger)).toBe(true);
  });

  it.each([[0, 25], [2, 100], [4, 250]])('retry %i spreads uniformly over [0, %i)', (n, ceiling) => {
    const delays = nthDelays(backoff, n);
    // floor(U × c) has mean (c − 1) / 2; its sd over 20k samples is ≈ c / 490, so 2% of c is ~10 sd.
    const mean = delays.reduce((a, b) => a + b, 0) / SAMPLES;
    expect(Math.abs(mean - (ceiling - 1) / 2)).toBeLessThan(ceiling * 0.02);
    // Each quarter of the range holds its share of the c integers, ± 2 points (binomial sd ≤ 0.33 points).
    const quarter = (d: number): number => Math.floor((d / ceiling) * 4);
    const seen = [0, 0, 0, 0];
    const expected = [0, 0, 0, 0];
    for (const d of delays) seen[quarter(d)]!++;
    for (let v = 0; v < ceiling; v++) expected[quarter(v)]! += 1 / ceiling;
    for (let q = 0; q < 4; q++) expect(Math.abs(seen[q]! / SAMPLES - expected[q]!)).toBeLessThan(0.02);
    // And it really is jitter: many distinct values, not one.
    expect(new Set(delays).size).toBeGreaterThan(ceiling * 0.9);
  });

  it('uses Retry-After instead, capped at max, and still advances the sequence', () => {
    const seq = backoff.start();
    expect(seq.next(100)).toBe(100);
    expect(seq.next(5_000)).toBe(250);
    expect(seq.next(0)).toBe(0);
    // The fourth delay comes from the fourth step of the sequence: [0, 200).
    for (let i = 0; i < 200; i++) {
      const s = backoff.start();
      s.next(0); s.next(0); s.next(0);
      expect(s.next()).toBeLessThan(200);
    }
  });

  it('keeps its bounds with a max below base', () => {
    const small = new RetryBackoff({ base: 100, max: 10 });
    const delays = nthDelays(small, 0).slice(0, 1000);
    expect(Math.max(...delays)).toBeLessThan(10);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-01T12:00:00Z');
  it.each([
    ['120', 120_000],
    ['0', 0],
    [' 3 ', 3_000],
    ['Sun, 01 Nov 2026 12:00:05 GMT', 5_000],
    ['Sun, 01 Nov 2026 11:00:00 GMT', 0],
    [['7', '9'], 7_000],
  ] as const)('%j → %i ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  it.each([[undefined], [''], ['-5'], ['1.5'], ['soon'], [[]]] as const)('%j → undefined', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});
