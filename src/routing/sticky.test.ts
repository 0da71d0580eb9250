import { describe, expect, it } from 'vitest';
import { compileSplit } from './split.js';
import { stickyBucket } from './sticky-bucket.js';
import { compileStickyKey, normaliseIp, readCookie, sessionCookie } from './sticky-key.js';

const KEYS = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);

describe('stickyBucket', () => {
  it('is an integer in [0, 100), the same on every call', () => {
    for (const k of KEYS.slice(0, 1000)) {
      const b = stickyBucket('reviews', k);
      expect(Number.isInteger(b) && b >= 0 && b < 100).toBe(true);
      expect(stickyBucket('reviews', k)).toBe(b);
    }
  });
  it('depends on the route, so one user is not low in every route at once', () => {
    const same = KEYS.slice(0, 2000).filter((k) => stickyBucket('a', k) === stickyBucket('b', k)).length;
    expect(same).toBeLessThan(60); // 1 % expected = 20; sd ≈ 4.5
  });
  // 20,000 keys: a bucket share has sd √(0.01·0.99/20000) = 0.07 points; ±0.5 points is 7 sd.
  it('spreads keys evenly: every bucket holds 1 % ± 0.5 points', () => {
    const counts = new Array<number>(100).fill(0);
    for (const k of KEYS) counts[stickyBucket('reviews', k)]!++;
    for (const c of counts) expect(Math.abs(c / KEYS.length - 0.01)).toBeLessThan(0.005);
  });
});

describe('sticky split: raising the canary weight only moves users onto the canary', () => {
  const assign = (weights: number[]): string[] => {
    const split = compileSplit(weights.map((weight, i) => ({ value: `d${i}`, weight })));
    return KEYS.map((k) => split.pick(stickyBucket('reviews', k)));
  };
  it('two destinations, canary 0 → 100 in steps of 5', () => {
    let before = assign([100, 0]);
    for (let canary = 5; canary <= 100; canary += 5) {
      const after = assign([100 - canary, canary]);
      for (let i = 0; i < KEYS.length; i++) {
        // A user on the canary stays there; a user who moves, moves onto it.
        if (before[i] === 'd1') expect(after[i]).toBe('d1');
        if (after[i] !== before[i]) expect(after[i]).toBe('d1');
      }
      // 20,000 keys: the canary share has sd ≤ 0.35 points; ±2 points is > 5 sd.
      const share = after.filter((d) => d === 'd1').length / KEYS.length;
      expect(Math.abs(share * 100 - canary)).toBeLessThan(2);
      before = after;
    }
  });
  it('three destinations with the canary last, weight taken from the one before it', () => {
    const before = assign([50, 45, 5]);
    const after = assign([50, 40, 10]);
    let moved = 0;
    for (let i = 0; i < KEYS.length; i++) {
      if (after[i] === before[i]) continue;
      moved++;
      expect([before[i], after[i]]).toEqual(['d1', 'd2']);
    }
    expect(Math.abs(moved / KEYS.length - 0.05)).toBeLessThan(0.01);
  });
});

describe('sticky keys', () => {
  it('header: the value, absent or empty meaning no key', () => {
    const key = compileStickyKey({ header: 'X-User-Id' });
    expect(key({ headers: { 'x-user-id': 'u1' } })).toEqual({ key: 'u1' });
    expect(key({ headers: { 'x-user-id': '' } })).toBeUndefined();
    expect(key({ headers: {} })).toBeUndefined();
  });
  it('sourceIp: the client address, IPv4-mapped IPv6 unmapped', () => {
    const key = compileStickyKey({ sourceIp: true });
    expect(key({ headers: {}, sourceIp: '::ffff:10.1.2.3' })).toEqual({ key: '10.1.2.3' });
    expect(key({ headers: {}, sourceIp: 'FE80::1' })).toEqual({ key: 'fe80::1' });
    expect(key({ headers: {} })).toBeUndefined();
    expect(normaliseIp('10.0.0.1')).toBe('10.0.0.1');
  });
  it('cookie: the cookie value when present, no Set-Cookie', () => {
    const key = compileStickyKey({ cookie: { name: 'session', ttl: 3_600_000 } }, { newSessionId: () => 'fresh' });
    expect(key({ headers: { cookie: 'a=1; session=abc; b=2' } })).toEqual({ key: 'abc' });
  });
  it('cookie: a new random session id and a Set-Cookie with Max-Age from ttl when absent', () => {
    const key = compileStickyKey({ cookie: { name: 'session', ttl: 90_000 } }, { newSessionId: () => 'fresh' });
    expect(key({ headers: { cookie: 'other=1' } })).toEqual({
      key: 'fresh', setCookie: 'session=fresh; Max-Age=90; Path=/; HttpOnly; SameSite=Lax',
    });
    expect(key({ headers: { cookie: `session=${'x'.repeat(300)}` } })?.setCookie).toBeDefined();
  });
  it('cookie: default session ids are random UUIDs', () => {
    const key = compileStickyKey({ cookie: { name: 's', ttl: 1000 } });
    const a = key({ headers: {} })!.key;
    const b = key({ headers: {} })!.key;
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(a).not.toBe(b);
  });
  it.each<[string | string[] | undefined, string | undefined]>([
    ['session=abc', 'abc'],
    ['a=1;session=abc', 'abc'],
    ['  session = abc ;x=1', 'abc'],
    ['session="quoted"', 'quoted'],
    ['xsession=no; session=yes', 'yes'],
    ['session=first; session=second', 'first'],
    [['a=1', 'session=arr'], 'arr'],
    ['session=', ''],
    ['nosuch=1', undefined],
    [undefined, undefined],
    ['garbage;;=;session', undefined],
  ])('readCookie(%j)', (header, want) => {
    expect(readCookie(header, 'session')).toBe(want);
  });
  it('sessionCookie never sets a Max-Age of 0 (which would delete the cookie)', () => {
    expect(sessionCookie('s', 'v', 10)).toContain('Max-Age=1;');
  });
});
