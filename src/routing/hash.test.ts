import { describe, expect, it } from 'vitest';
import { fnv1a64, hash32, hash53, hash53Pair, indexedHashes32 } from './hash.js';

describe('FNV-1a 64', () => {
  // Reference values from a BigInt implementation over TextEncoder bytes (and the FNV test suite
  // for "", "a", "foobar").
  it.each([
    ['', 'cbf29ce484222325'],
    ['a', 'af63dc4c8601ec8c'],
    ['foobar', '85944171f73967e8'],
    ['héllo', 'a35ff71f960240e0'],
    ['😀x', '4d5c34eed26afdd0'],
    ['\ud800z', 'af46b0e0782ed790'], // lone surrogate hashed as U+FFFD, like TextEncoder
    ['x'.repeat(100), '052c9e7cec411035'],
  ])('%j', (s, want) => {
    expect(fnv1a64(s)).toBe(want);
  });
});

describe('mixed hashes', () => {
  it('are stable across processes: pinned values', () => {
    // Changing these moves every sticky user and every consistent-hash key in a fleet mid-rollout.
    expect(hash53('user-1')).toBe(7842529779120140);
    expect(hash53Pair('route', 'user-1')).toBe(1159903202888849);
  });
  it('stay in range', () => {
    for (let i = 0; i < 1000; i++) {
      const h = hash53(`k${i}`);
      expect(Number.isSafeInteger(h) && h >= 0).toBe(true);
      const h32 = hash32(`k${i}`);
      expect(h32 >= 0 && h32 < 2 ** 32 && Number.isInteger(h32)).toBe(true);
    }
  });
  it('separates the pair', () => {
    expect(hash53Pair('ab', 'c')).not.toBe(hash53Pair('a', 'bc'));
  });
  it('spread sequential keys evenly over 100 buckets (chi-square)', () => {
    // 100 000 keys "user-0"…: each bucket expects 1000. χ² with 99 degrees of freedom has mean 99 and
    // sd 14; 200 is > 7 sd out: a good hash never gets there, FNV-1a without finaliser would.
    const counts = new Array<number>(100).fill(0);
    for (let i = 0; i < 100_000; i++) counts[hash53(`user-${i}`) % 100]!++;
    const chi2 = counts.reduce((s, c) => s + (c - 1000) ** 2 / 1000, 0);
    expect(chi2).toBeLessThan(200);
  });
  it('indexedHashes32 gives distinct positions per index', () => {
    const out = new Uint32Array(1024);
    indexedHashes32('10.0.0.1:80', 1024, out, 0);
    expect(new Set(out).size).toBeGreaterThan(1020);
  });
});
