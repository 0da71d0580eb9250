import { describe, expect, it } from 'vitest';
import type { Clock } from './clock.js';
import { RetryBudget } from './retry-budget.js';

function manualClock(start = 1_000_000): Clock & { advance(ms: number): void } {
  let t = start;
  return { now: () => t, wall: () => t, advance: (ms) => { t += ms; } };
}

function grant(budget: RetryBudget, tries: number): number {
  let granted = 0;
  for (let i = 0; i < tries; i++) if (budget.tryAcquireRetry()) granted++;
  return granted;
}

describe('RetryBudget', () => {
  it('earns percent of a retry per request', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ percent: 20, minPerSecond: 0 }, { clock });
    for (let i = 0; i < 1000; i++) budget.recordRequest();
    expect(grant(budget, 1000)).toBe(200);
  });

  it('a burst on a quiet route spends the whole reserve at once: minPerSecond × the window', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ percent: 20, minPerSecond: 10, windowMs: 10_000 }, { clock });
    // The scenario: 20 requests at once, about half needing a retry, three times in a row.
    for (let b = 0; b < 3; b++) {
      for (let i = 0; i < 20; i++) budget.recordRequest();
      expect(grant(budget, 12)).toBe(12);
      clock.advance(50);
    }
    expect(budget.view()).toMatchObject({ reserve: 100, requests: 60, retries: 36, available: 76 });
    // With no requests at all, the reserve alone: 100 retries, then none until they leave the window.
    const idle = new RetryBudget({ percent: 20, minPerSecond: 10 }, { clock });
    expect(grant(idle, 150)).toBe(100);
    clock.advance(5_000);
    expect(grant(idle, 10)).toBe(0);
    clock.advance(5_000); // the burst's bucket has left the window: the reserve is whole again
    expect(grant(idle, 150)).toBe(100);
  });

  it('the reserve is added to what requests earn', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ percent: 20, minPerSecond: 10 }, { clock });
    for (let i = 0; i < 1000; i++) budget.recordRequest();
    expect(grant(budget, 1000)).toBe(300);
  });

  it('slides: deposits and withdrawals older than the window stop counting', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ percent: 50, minPerSecond: 0, windowMs: 10_000 }, { clock });
    for (let i = 0; i < 100; i++) budget.recordRequest();
    expect(grant(budget, 100)).toBe(50);
    clock.advance(5_000);
    for (let i = 0; i < 100; i++) budget.recordRequest();
    expect(grant(budget, 100)).toBe(50); // 200 requests, 100 retries in the window
    clock.advance(5_000); // the first second's bucket has left
    expect(grant(budget, 100)).toBe(0); // 100 requests, 50 retries: exactly spent
    for (let i = 0; i < 20; i++) budget.recordRequest();
    expect(grant(budget, 100)).toBe(10);
    clock.advance(10_000);
    expect(grant(budget, 100)).toBe(0);
  });

  it('percent 0 leaves only the reserve', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ percent: 0, minPerSecond: 3, windowMs: 2_000 }, { clock });
    for (let i = 0; i < 1000; i++) budget.recordRequest();
    expect(grant(budget, 100)).toBe(6);
  });

  it('honours fractional percentages', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ percent: 0.5, minPerSecond: 0 }, { clock });
    for (let i = 0; i < 1000; i++) budget.recordRequest();
    expect(grant(budget, 100)).toBe(5);
  });

  it('an upstream that always fails sees at most percent% extra load plus the reserve over a long run', () => {
    for (const rate of [5, 100, 1000]) { // requests per second: quiet, moderate, busy
      const clock = manualClock();
      const budget = new RetryBudget({ percent: 20, minPerSecond: 10 }, { clock });
      const step = 1000 / rate;
      let retries = 0;
      let requests = 0;
      const seconds = 600;
      for (let ms = 0; ms < seconds * 1000; ms += step) {
        clock.advance(step);
        budget.recordRequest();
        requests++;
        // Every try fails, and each request would take up to 3 retries.
        for (let r = 0; r < 3 && budget.tryAcquireRetry(); r++) retries++;
      }
      // Bound: percent of the requests, minPerSecond per second, and the reserve once at the start.
      const bound = requests * 0.2 + 10 * seconds + 100;
      expect(retries, `${rate} req/s`).toBeLessThanOrEqual(bound);
      // And the budget is used, not just bounded: at least 95% of what it allows.
      expect(retries, `${rate} req/s`).toBeGreaterThanOrEqual(0.95 * Math.min(bound, requests * 3));
    }
  });

  it('view() reports settings, counts and what is available now', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ percent: 25, minPerSecond: 1, windowMs: 4_000 }, { clock });
    for (let i = 0; i < 8; i++) budget.recordRequest();
    budget.tryAcquireRetry();
    expect(budget.view()).toEqual({ percent: 25, minPerSecond: 1, windowMs: 4_000, reserve: 4, requests: 8, retries: 1, available: 5 });
  });
});
