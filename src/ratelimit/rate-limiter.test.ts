import { describe, expect, it } from 'vitest';
import { LocalRateLimiter } from './rate-limiter.js';
import { RateLimiterRegistry, type RateLimitSpec } from './limiter-registry.js';
import { limitedHeaders, policyField, retrySeconds, sfString } from './ratelimit-headers.js';

describe('LocalRateLimiter', () => {
  it('has one shared bucket, and a bucket per key beside it', () => {
    let now = 0;
    const l = new LocalRateLimiter({ requests: 100, per: 1000, burst: 2, maxKeys: 10, now: () => now });
    expect([l.take(undefined), l.take(undefined), l.take(undefined)]).toEqual([0, 0, 10]);
    expect([l.take('a'), l.take('a'), l.take('a') > 0, l.take('b')]).toEqual([0, 0, true, 0]);
    now = 10;
    expect(l.take(undefined)).toBe(0);
    expect(l.remaining('a')).toBe(1);
    expect(l.remaining('zzz')).toBe(2);
    expect(l.stats()).toEqual({ scope: 'local', keys: 2, maxKeys: 10, evictedLive: 0 });
  });
});

describe('RateLimiterRegistry', () => {
  const spec: RateLimitSpec = { requests: 10, per: 1000, burst: 10, maxKeys: 100, scope: 'local' };

  it('keeps a route\'s limiter (its buckets) while the spec is unchanged, and forgets removed routes', () => {
    const r = new RateLimiterRegistry();
    const a = r.limiter('a', spec);
    expect(r.limiter('a', { ...spec })).toBe(a);
    expect(r.limiter('a', { ...spec, burst: 5 })).not.toBe(a);
    r.limiter('b', spec);
    r.retain(['b']);
    expect(r.size).toBe(1);
  });

  it('makes fleet limiters only through a fleet factory', () => {
    expect(() => new RateLimiterRegistry().limiter('a', { ...spec, scope: 'fleet' })).toThrow(/needs the fleet/);
    const fleet = new LocalRateLimiter(spec);
    expect(new RateLimiterRegistry({ fleet: () => fleet }).limiter('a', { ...spec, scope: 'fleet' })).toBe(fleet);
  });
});

describe('RateLimit fields', () => {
  it.each([
    [{ requests: 100, per: 1000, burst: 20 }, '"api";q=100;w=1;pilotfish-burst=20'],
    [{ requests: 10, per: 100, burst: 10 }, '"api";q=100;w=1;pilotfish-burst=10'],
    [{ requests: 3, per: 1500, burst: 3 }, '"api";q=4;w=2;pilotfish-burst=3'],
    [{ requests: 1000, per: 3_600_000, burst: 50 }, '"api";q=1000;w=3600;pilotfish-burst=50'],
  ])('policy of %j', (rate, want) => {
    expect(policyField('api', rate)).toBe(want);
  });

  it('quotes names as sf-strings', () => {
    expect(sfString('a "b" \\ c')).toBe('"a \\"b\\" \\\\ c"');
    expect(sfString('zoné\n')).toBe('"zon??"');
  });

  it('rounds the wait up to whole seconds, at least one', () => {
    expect([retrySeconds(0), retrySeconds(3), retrySeconds(1000), retrySeconds(1001)]).toEqual([1, 1, 1, 2]);
    expect(limitedHeaders('"api"', 'P', 2500)).toEqual({ 'retry-after': '3', 'ratelimit-policy': 'P', ratelimit: '"api";r=0;t=3' });
  });
});
