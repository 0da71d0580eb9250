import { describe, expect, it } from 'vitest';
import type { RoutePolicy } from '../config/index.js';
import type { Clock } from './clock.js';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.js';

const fromPolicy: RetryBudgetOptions = {} as NonNullable<RoutePolicy['retries']>['budget'];
void fromPolicy;

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
  it('allows retries up to percent of the requests in the window', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ percent: 20, minPerSecond: 0 }, { clock });
    for (let i = 0; i < 1000; i++) budget.recordRequest();
    expect(grant(budget, 1000)).toBe(200);
  });

  it('always allows minPerSecond retries per second, even with no requests', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ percent: 20, minPerSecond: 10 }, { clock });
    expect(grant(budget, 50)).toBe(10);
    clock.advance(1_000);
    expect(grant(budget, 50)).toBe(10);
  });

  it('the floor is "at least", not added to the percentage', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ percent: 20, minPerSecond: 10 }, { clock });
    for (let i = 0; i < 1000; i++) budget.recordRequest();
    expect(grant(budget, 1000)).toBe(200);
  });

  it('slides: requests and retries older than the window stop counting', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ percent: 50, minPerSecond: 0, windowMs: 10_000 }, { clock });
    for (let i = 0; i < 100; i++) budget.recordRequest();
    expect(grant(budget, 100)).toBe(50);
    clock.advance(5_000);
    for (let i = 0; i < 100; i++) budget.recordRequest();
    expect(grant(budget, 100)).toBe(50); // 200 requests, 100 retries in the window
    clock.advance(5_000); // the first second's bucket has left
    expect(grant(budget, 100)).toBe(0); // 100 requests, 50 retries: exactly at the cap
    for (let i = 0; i < 20; i++) budget.recordRequest();
    expect(grant(budget, 100)).toBe(10);
    clock.advance(10_000);
    expect(grant(budget, 100)).toBe(0);
  });

  it('percent 0 leaves only the floor', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ percent: 0, minPerSecond: 3 }, { clock });
    for (let i = 0; i < 1000; i++) budget.recordRequest();
    expect(grant(budget, 100)).toBe(3);
  });

  it('honours fractional percentages', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ percent: 0.5, minPerSecond: 0 }, { clock });
    for (let i = 0; i < 1000; i++) budget.recordRequest();
    expect(grant(budget, 100)).toBe(5);
  });

  it('keeps a steady state of percent under constant load and failure', () => {
    const clock = manualClock();
    const budget = new RetryBudget({ percent: 20, minPerSecond: 1 }, { clock });
    let retries = 0;
    let requests = 0;
    for (let ms = 0; ms < 60_000; ms += 10) { // 100 req/s, every one wants a retry
      clock.advance(10);
      budget.recordRequest();
      requests++;
      if (budget.tryAcquireRetry()) retries++;
    }
    expect(retries / requests).toBeGreaterThan(0.19);
    expect(retries / requests).toBeLessThan(0.21);
  });
});
