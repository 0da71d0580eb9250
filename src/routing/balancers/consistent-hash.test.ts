/**
 * Ring hash and Maglev specifics: redistribution when one of N endpoints leaves (SPEC §5: only the
 * keys it held move — bound ≤ 1/N + 5 %), table caching per membership, ring size. Keys are fixed
 * strings: the results are deterministic.
 */
import { describe, expect, it } from 'vitest';
import { buildMaglevTable, MaglevBalancer } from './maglev.js';
import { buildRing, RingHashBalancer } from './ring-hash.js';

const KEYS = Array.from({ length: 20_000 }, (_, i) => `session-${i}`);
const eps = (n: number): Array<{ address: string }> => Array.from({ length: n }, (_, i) => ({ address: `10.1.0.${i + 1}:9080` }));
const make = { 'ring-hash': () => new RingHashBalancer(), maglev: () => new MaglevBalancer() };

describe.each(['ring-hash', 'maglev'] as const)('%s', (kind) => {
  it.each([3, 5, 10, 25])('when one of %i endpoints leaves, at most 1/N + 0.05 of the keys move, almost all of them its own', (n) => {
    const lb = make[kind]();
    const all = eps(n);
    const before = KEYS.map((k) => lb.pick(all, { hashKey: k })!.address);
    for (const leaving of [0, n - 1]) {
      const rest = all.filter((_, i) => i !== leaving);
      const gone = all[leaving]!.address;
      let moved = 0;
      let movedFromSurvivors = 0;
      KEYS.forEach((k, i) => {
        const after = lb.pick(rest, { hashKey: k })!.address;
        if (after !== before[i]) { moved++; if (before[i] !== gone) movedFromSurvivors++; }
        if (before[i] === gone) expect(after).not.toBe(gone);
      });
      expect(moved / KEYS.length).toBeLessThanOrEqual(1 / n + 0.05);
      if (kind === 'ring-hash') expect(movedFromSurvivors).toBe(0); // exactly the leaver's keys
      else expect(movedFromSurvivors / KEYS.length).toBeLessThan(0.02); // Maglev: a little churn
    }
  });

  it('when the endpoint returns, its keys come back (same table as before)', () => {
    const lb = make[kind]();
    const all = eps(6);
    const before = KEYS.slice(0, 2000).map((k) => lb.pick(all, { hashKey: k })!.address);
    lb.pick(all.slice(1), { hashKey: 'x' });
    expect(KEYS.slice(0, 2000).map((k) => lb.pick([...all], { hashKey: k })!.address)).toEqual(before);
  });

  it('builds once per membership, not per array or per order', () => {
    const lb = make[kind]();
    const all = eps(8);
    for (let i = 0; i < 100; i++) lb.pick(i % 2 ? all : [...all].reverse(), { hashKey: `k${i}` });
    expect(lb.cache.builds).toBe(1);
    const fewer = all.slice(1);
    for (let i = 0; i < 100; i++) lb.pick([...(i % 2 ? all : fewer)], { hashKey: `k${i}` });
    expect(lb.cache.builds).toBe(2); // flapping between two memberships reuses both
    lb.pick([...all, { address: '10.9.9.9:1' }]);
    expect(lb.cache.builds).toBe(3);
  });

  it('treats duplicate addresses as one member', () => {
    const lb = make[kind]();
    const [a, b] = eps(2);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(lb.pick([a!, a!, b!], { hashKey: `k${i}` })!.address);
    expect(seen).toEqual(new Set([a!.address, b!.address]));
  });
});

describe('ring sizes', () => {
  const addrs = (n: number): string[] => eps(n).map((e) => e.address);
  it('has at least 1024 points, 1024 per endpoint up to 64 endpoints', () => {
    expect(buildRing(addrs(1)).points.length).toBe(1024);
    expect(buildRing(addrs(10)).points.length).toBe(10_240);
    expect(buildRing(addrs(64)).points.length).toBe(65_536);
  });
  it('caps the ring at maxRingSize, never below minRingSize', () => {
    expect(buildRing(addrs(200)).points.length).toBe(200 * Math.floor(65_536 / 200));
    expect(buildRing(addrs(3), { pointsPerEndpoint: 10 }).points.length).toBe(3 * 342);
  });
  it('is sorted and owned by members', () => {
    const { points, owners } = buildRing(addrs(5));
    for (let i = 1; i < points.length; i++) expect(points[i]! >= points[i - 1]!).toBe(true);
    for (const o of owners) expect(o).toBeLessThan(5);
  });
});

describe('maglev table', () => {
  it('has 65537 slots, all owned, shares within a few slots of M/N', () => {
    const table = buildMaglevTable(eps(7).map((e) => e.address));
    expect(table.length).toBe(65_537);
    const counts = new Array<number>(7).fill(0);
    for (const o of table) counts[o]!++;
    for (const c of counts) expect(Math.abs(c - 65_537 / 7)).toBeLessThan(65_537 * 0.01);
  });
});
