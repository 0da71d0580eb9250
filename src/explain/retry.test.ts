import { describe, expect, it } from 'vitest';
import { explainRetry, renderRetry } from './retry.js';

const retries = { attempts: 2, retryOn: ['5xx' as const], backoff: { base: 25, max: 250 }, budget: { percent: 20, minPerSecond: 10 }, nonIdempotent: false };
const budget = { percent: 20, minPerSecond: 10, windowMs: 10_000, reserve: 100, requests: 0, retries: 0, available: 100 };

describe('explain: the retry section', () => {
  it('a GET with a fresh budget: nothing skipped, the budget shown', () => {
    const x = explainRetry(retries, budget, 'GET', {})!;
    expect(x.skips).toEqual([]);
    expect(renderRetry(x).join('\n')).toContain('budget: 20% of requests + a reserve of 100 (10/s over 10s); now 100 available');
  });

  it('names every reason a retry of this request would be skipped', () => {
    const x = explainRetry(retries, { ...budget, requests: 500, retries: 200, available: 0 }, 'POST', { 'content-length': String(2 * 1024 * 1024) })!;
    expect(x.skips.map((s) => s.reason)).toEqual(['non-idempotent', 'body-too-large', 'budget']);
    expect(renderRetry(x).filter((l) => l.includes('skipped retries'))).toHaveLength(3);
  });

  it('nonIdempotent: true lifts the method rule; no retries block, no section', () => {
    expect(explainRetry({ ...retries, nonIdempotent: true }, budget, 'POST', {})!.skips).toEqual([]);
    expect(explainRetry(undefined, budget, 'GET', {})).toBeNull();
  });
});
