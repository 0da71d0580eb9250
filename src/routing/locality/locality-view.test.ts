import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../seeded-random.js';
import { LocalityView, localityBucket, type LocalityEndpoint } from './locality-view.js';

/** Three zones in two regions, two endpoints each: a1 a2 (r1/a), b1 b2 (r1/b), c1 c2 (r2/c). */
const ep = (name: string, region: string, zone: string): LocalityEndpoint => ({ address: name, labels: { region, zone } });
const members = [ep('a1', 'r1', 'a'), ep('a2', 'r1', 'a'), ep('b1', 'r1', 'b'), ep('b2', 'r1', 'b'), ep('c1', 'r2', 'c'), ep('c2', 'r2', 'c')];
const only = (...names: string[]): LocalityEndpoint[] => members.filter((e) => names.includes(e.address));
const view = (): LocalityView<LocalityEndpoint> => LocalityView.of({ region: 'r1', zone: 'a' }, ['r2'], members);

/** Share of `n` random buckets that land in each tier label. */
function spread(v: LocalityView<LocalityEndpoint>, n = 20_000): Record<string, number> {
  const random = mulberry32(7);
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const t = v.tierFor(random() * 100);
    const label = t < 0 ? 'none' : v.describe()[t]!.tier;
    counts[label] = (counts[label] ?? 0) + 1;
  }
  for (const k of Object.keys(counts)) counts[k]! /= n;
  return counts;
}

describe('LocalityView', () => {
  it('sorts members into tiers and starts with all traffic local', () => {
    const v = view();
    expect(v.describe()).toEqual([
      { tier: 'zone a', endpoints: ['a1', 'a2'], eligible: ['a1', 'a2'], share: 100 },
      { tier: 'region r1', endpoints: ['b1', 'b2'], eligible: ['b1', 'b2'], share: 0 },
      { tier: 'failover r2', endpoints: ['c1', 'c2'], eligible: ['c1', 'c2'], share: 0 },
      { tier: 'any', endpoints: [], eligible: [], share: 0 },
    ]);
    expect(spread(v)).toEqual({ 'zone a': 1 });
  });

  it.each([
    // [eligible endpoints, expected share per tier (zone a, region r1, failover r2, any)]
    ['half of zone a down', ['a1', 'b1', 'b2', 'c1', 'c2'], [70, 30, 0, 0]],
    ['zone a down', ['b1', 'b2', 'c1', 'c2'], [0, 100, 0, 0]],
    ['zone a down, half of zone b', ['b1', 'c1', 'c2'], [0, 70, 30, 0]],
    ['only the failover region', ['c1', 'c2'], [0, 0, 100, 0]],
    ['nothing', [], [0, 0, 0, 0]],
  ])('%s', (_name, eligible, want) => {
    const v = view();
    v.update(only(...(eligible as string[])));
    expect(v.describe().map((t) => t.share)).toEqual(want);
    const s = spread(v);
    (want as number[]).forEach((share, i) => {
      const label = v.describe()[i]!.tier;
      expect(s[label] ?? 0).toBeCloseTo(share / 100, 1); // ± 5 points over 20 000 draws
    });
    if ((eligible as string[]).length === 0) expect(v.tierFor(50)).toBe(-1);
  });

  it('gives each tier its eligible endpoints as one stable array until the next update', () => {
    const v = view();
    v.update(only('a2', 'b1', 'b2'));
    const tier0 = v.eligible(0);
    expect(tier0.map((e) => e.address)).toEqual(['a2']);
    expect(v.eligible(v.tierFor(10))).toBe(tier0); // no array per request
    expect(v.eligible(-1)).toEqual([]);
  });

  it('sticky buckets keep their tier while health is stable, and only the top of a shrinking interval moves', () => {
    const v = view();
    const keys = Array.from({ length: 5000 }, (_, i) => `user-${i}`);
    const before = keys.map((k) => v.tierFor(localityBucket(k)));
    expect(new Set(before)).toEqual(new Set([0]));
    v.update(only('a1', 'b1', 'b2', 'c1', 'c2'));
    const after = keys.map((k) => v.tierFor(localityBucket(k)));
    const moved = keys.filter((_, i) => after[i] !== before[i]);
    // 30 % of the keys move, each to the region (never the failover region), and exactly those with buckets ≥ 70.
    expect(moved.length / keys.length).toBeGreaterThan(0.27);
    expect(moved.length / keys.length).toBeLessThan(0.33);
    for (const k of moved) { expect(localityBucket(k)).toBeGreaterThanOrEqual(70); expect(v.tierFor(localityBucket(k))).toBe(1); }
    expect(keys.map((k) => v.tierFor(localityBucket(k)))).toEqual(after); // stable
    v.update(members);
    expect(keys.map((k) => v.tierFor(localityBucket(k)))).toEqual(before); // recovery brings them back
  });

  it('a retry whose tier is all tried goes to the nearest tier with an untried endpoint', () => {
    const v = view();
    expect(v.tierFor(10, new Set(['a1']))).toBe(0);
    expect(v.tierFor(10, new Set(['a1', 'a2']))).toBe(1);
    expect(v.tierFor(10, new Set(['a1', 'a2', 'b1', 'b2']))).toBe(2);
    expect(v.tierFor(10, new Set(['a1', 'a2', 'b1', 'b2', 'c1', 'c2']))).toBe(0); // everything tried: stay
    v.update(only('b1', 'c1'));
    expect(v.tierFor(99.99, new Set(['c1']))).toBe(1);
  });

  it('endpoints without locality labels are in the last tier', () => {
    const v = LocalityView.of({ region: 'r1', zone: 'a' }, [], [{ address: 'x', labels: {} }, ep('a1', 'r1', 'a')]);
    expect(v.describe().map((t) => [t.tier, t.endpoints])).toEqual([['zone a', ['a1']], ['region r1', []], ['any', ['x']]]);
    v.update([{ address: 'x', labels: {} }]);
    expect(v.tierFor(0)).toBe(2);
  });

  it('localityBucket is a stable number in [0, 100) spread evenly', () => {
    expect(localityBucket('alice')).toBe(localityBucket('alice'));
    const b = Array.from({ length: 10_000 }, (_, i) => localityBucket(`k${i}`));
    for (const x of b) { expect(x).toBeGreaterThanOrEqual(0); expect(x).toBeLessThan(100); }
    const low = b.filter((x) => x < 30).length / b.length;
    expect(low).toBeGreaterThan(0.28);
    expect(low).toBeLessThan(0.32);
  });
});
