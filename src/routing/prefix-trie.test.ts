import { describe, expect, it } from 'vitest';
import { PrefixTrie } from './prefix-trie.js';

function prefixesOf(trie: PrefixTrie<string>, path: string): string[] {
  const out: string[] = [];
  const n = trie.walk(path, out);
  return out.slice(0, n);
}

describe('PrefixTrie', () => {
  it('walks every stored prefix of a path, shortest first', () => {
    const t = new PrefixTrie<string>();
    for (const k of ['/', '/api', '/api/v1', '/apix', '/b', '']) t.getOrCreate(k, () => k);
    expect(prefixesOf(t, '/api/v1/users')).toEqual(['', '/', '/api', '/api/v1']);
    expect(prefixesOf(t, '/apix')).toEqual(['', '/', '/api', '/apix']);
    expect(prefixesOf(t, '/ap')).toEqual(['', '/']);
    expect(prefixesOf(t, 'x')).toEqual(['']);
    expect(t.count).toBe(6);
  });
  it('splits edges in any insertion order and returns the same slot for the same key', () => {
    const keys = ['/abcdef', '/abc', '/abx', '/a', '/abcdefg', '/ab'];
    for (const order of [keys, [...keys].reverse()]) {
      const t = new PrefixTrie<{ k: string }>();
      for (const k of order) t.getOrCreate(k, () => ({ k }));
      for (const k of keys) expect(t.getOrCreate(k, () => ({ k: 'new' })).k).toBe(k);
      const out: Array<{ k: string }> = [];
      const n = t.walk('/abcdefgh', out);
      expect(out.slice(0, n).map((v) => v.k)).toEqual(['/a', '/ab', '/abc', '/abcdef', '/abcdefg']);
      expect([...t.values()].map((v) => v.k).sort()).toEqual([...keys].sort());
    }
  });
  it('agrees with startsWith on random keys', () => {
    let seed = 7;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    const word = (): string => Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => 'ab/'[Math.floor(rnd() * 3)]).join('');
    const t = new PrefixTrie<string>();
    const keys = new Set<string>();
    for (let i = 0; i < 200; i++) { const k = word(); keys.add(k); t.getOrCreate(k, () => k); }
    for (let i = 0; i < 500; i++) {
      const p = word() + word();
      const want = [...keys].filter((k) => p.startsWith(k)).sort((x, y) => x.length - y.length);
      expect(prefixesOf(t, p)).toEqual(want);
    }
  });
});
