import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { compileRate } from './gcra.js';
import { KeyedBuckets, MAX_KEY_LENGTH } from './keyed-buckets.js';

const g = compileRate({ requests: 10, per: 1000, burst: 2 });

describe('KeyedBuckets', () => {
  it('keeps one bucket per key', () => {
    const b = new KeyedBuckets(g, 100);
    expect([b.take('a', 0), b.take('a', 0), b.take('a', 0)]).toEqual([0, 0, 100]);
    expect(b.take('b', 0)).toBe(0);
    expect(b.size).toBe(2);
    expect(b.remaining('a', 0)).toBe(0);
    expect(b.remaining('never-seen', 0)).toBe(2);
    expect(b.size).toBe(2); // remaining() creates nothing
  });

  it('never holds more than maxKeys, evicting the least recently used', () => {
    const b = new KeyedBuckets(g, 3);
    b.take('a', 0); b.take('a', 0); // a is empty
    b.take('b', 0);
    b.take('c', 0);
    b.take('a', 0); // a is now the most recently used (still empty)
    b.take('d', 0); // evicts b, the least recently used
    expect(b.size).toBe(3);
    expect(b.take('a', 0)).toBe(100); // kept: still limited
    expect(b.remaining('b', 0)).toBe(2); // forgotten: full again
    expect(b.evictedLive).toBe(1); // b had used a token
  });

  it('an attacker cycling keys cannot grow the table; a client active meanwhile keeps its bucket', () => {
    const b = new KeyedBuckets(g, 1000);
    b.take('victim', 0); b.take('victim', 0); // empty
    for (let i = 0; i < 100_000; i++) {
      b.take(`attacker-${i}`, 0);
      if (i % 500 === 0) expect(b.take('victim', 0)).toBeGreaterThan(0); // still limited: never evicted
      expect(b.size).toBeLessThanOrEqual(1000);
    }
    expect(b.size).toBe(1000);
  });

  it('stores long keys as a hash, so their length costs nothing', () => {
    const b = new KeyedBuckets(g, 10);
    const long = 'x'.repeat(MAX_KEY_LENGTH + 1);
    b.take(long, 0); b.take(long, 0);
    expect(b.take(long, 0)).toBe(100);
    expect(b.take(`${long}y`, 0)).toBe(0); // another long key, another bucket
  });

  it('100,000 distinct keys keep memory bounded by maxKeys (measured)', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = (): number => { gc(); gc(); return process.memoryUsage().heapUsed; };
    const fill = (maxKeys: number, keys: number): { b: KeyedBuckets; bytes: number } => {
      const before = heap();
      const b = new KeyedBuckets(g, maxKeys);
      for (let i = 0; i < keys; i++) b.take(`client-${i}-${'k'.repeat(40)}`, i);
      return { b, bytes: heap() - before };
    };
    const capped = fill(10_000, 100_000);
    const uncapped = fill(100_000, 100_000);
    expect(capped.b.size).toBe(10_000);
    expect(uncapped.b.size).toBe(100_000);
    // ~150 bytes a key with a 50-character key: 10 000 keys stay well under 6 MB, and 100 000 distinct
    // keys cost the capped table no more than 10 000 do; the uncapped one shows what the cap saves.
    expect(capped.bytes).toBeLessThan(6 * 1024 * 1024);
    expect(uncapped.bytes).toBeGreaterThan(4 * capped.bytes);
    console.log(`rate-limit keys, heap: 100000 keys capped at 10000 → ${(capped.bytes / 1048576).toFixed(2)} MiB; uncapped → ${(uncapped.bytes / 1048576).toFixed(2)} MiB`);
  });
});
