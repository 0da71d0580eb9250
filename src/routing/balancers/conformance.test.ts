/**
 * The conformance suite every load balancer must pass (hono's `common.case.test.ts` idea): one set of
 * behavioural cases, run against each kind `createLoadBalancer` knows. Kind-specific behaviour
 * (redistribution, load awareness) is tested beside each implementation.
 *
 * Random choices come from a seeded generator so a failure reproduces; the statistical bounds are
 * wide enough (see each case) that any seed passes unless the balancer is wrong.
 */
import { describe, expect, it } from 'vitest';
import { createLoadBalancer, LOAD_BALANCER_KINDS } from './create-balancer.js';
import { CONSISTENT_HASH_KINDS, type LoadBalancer, type LoadBalancerKind } from './load-balancer.js';
import { mulberry32 } from '../seeded-random.js';


interface Ep { readonly address: string; readonly zone: string }
const eps = (n: number, base = 0): Ep[] => Array.from({ length: n }, (_, i) => ({ address: `10.0.${Math.floor((base + i) / 250)}.${(base + i) % 250}:8080`, zone: 'z' }));

/** A fake clock shared by the balancers under test: `tally` advances it. */
let now = 0;

function make(kind: LoadBalancerKind, seed = 1): LoadBalancer {
  return createLoadBalancer(kind, { random: mulberry32(seed), tracking: { now: () => now } });
}

/**
 * Simulated traffic: one request per millisecond, each taking 8 ms, so 8 are in flight at a time (a
 * load-aware balancer sees load build up, as it would in production), all succeeding.
 */
function tally(lb: LoadBalancer, list: readonly Ep[], n: number, key?: (i: number) => string): Map<string, number> {
  const counts = new Map<string, number>();
  const inflight: string[] = [];
  for (let i = 0; i < n; i++) {
    now += 1;
    if (inflight.length === 8) lb.onRequestEnd(inflight.shift()!, 8, true);
    const e = lb.pick(list, key ? { hashKey: key(i) } : undefined)!;
    lb.onRequestStart(e.address);
    inflight.push(e.address);
    counts.set(e.address, (counts.get(e.address) ?? 0) + 1);
  }
  for (const a of inflight) lb.onRequestEnd(a, 8, true);
  return counts;
}

describe.each(LOAD_BALANCER_KINDS)('load balancer conformance: %s', (kind) => {
  it('reports its kind', () => {
    expect(make(kind).kind).toBe(kind);
  });

  it('returns undefined for an empty list, with or without context', () => {
    const lb = make(kind);
    expect(lb.pick([])).toBeUndefined();
    expect(lb.pick([], { exclude: new Set(['x']), hashKey: 'k' })).toBeUndefined();
  });

  it('returns the only endpoint of a one-element list, even when excluded', () => {
    const lb = make(kind);
    const [only] = eps(1);
    expect(lb.pick([only!])).toBe(only);
    expect(lb.pick([only!], { exclude: new Set([only!.address]) })).toBe(only);
  });

  it('only ever returns members of the list it is given, as memberships change', () => {
    const lb = make(kind);
    const rnd = mulberry32(99);
    const pool = eps(12);
    for (let round = 0; round < 50; round++) {
      const list = pool.filter(() => rnd() < 0.6);
      for (let i = 0; i < 40; i++) {
        const e = lb.pick(list, { hashKey: `k${i}` });
        if (list.length === 0) expect(e).toBeUndefined();
        else expect(list).toContain(e);
      }
    }
  });

  it('never returns an excluded endpoint while another is eligible', () => {
    const lb = make(kind);
    const list = eps(5);
    const exclude = new Set(list.slice(0, 4).map((e) => e.address));
    for (let i = 0; i < 300; i++) expect(lb.pick(list, { exclude, hashKey: `k${i}` })).toBe(list[4]);
    const one = new Set([list[2]!.address]);
    for (let i = 0; i < 300; i++) expect(lb.pick(list, { exclude: one, hashKey: `k${i}` })?.address).not.toBe(list[2]!.address);
  });

  it('still returns a member when every endpoint was tried', () => {
    const lb = make(kind);
    const list = eps(3);
    const all = new Set(list.map((e) => e.address));
    for (let i = 0; i < 50; i++) expect(list).toContain(lb.pick(list, { exclude: all, hashKey: `k${i}` }));
  });

  // 4 equal endpoints, 8,000 picks: a fair share is 25 % (sd 0.5 points for random choice); ring
  // shares deviate ~3 % from 1/N with 1024 points each. [18 %, 32 %] fails only for a real bias.
  it('spreads traffic over equal endpoints', () => {
    const lb = make(kind);
    const list = eps(4);
    const counts = tally(lb, list, 8000);
    expect(counts.size).toBe(4);
    for (const c of counts.values()) expect(c / 8000).toBeGreaterThan(0.18);
    for (const c of counts.values()) expect(c / 8000).toBeLessThan(0.32);
  });

  it('accepts feedback for unknown addresses without failing', () => {
    const lb = make(kind);
    expect(() => { lb.onRequestStart('nowhere:1'); lb.onRequestEnd('nowhere:1', 5, false); lb.onRequestEnd('never:1', 5, true); }).not.toThrow();
  });

  it('keeps working for endpoint objects it has not seen, with the same addresses', () => {
    const lb = make(kind);
    const a = eps(3);
    const b = a.map((e) => ({ ...e }));
    lb.pick(a, { hashKey: 'k' });
    const e = lb.pick(b, { hashKey: 'k' });
    expect(b).toContain(e); // the current list's object, not a cached one
  });

  if (CONSISTENT_HASH_KINDS.has(kind)) {
    it('sends the same key to the same endpoint while membership is stable, whatever the list order', () => {
      const lb = make(kind);
      const list = eps(7);
      const shuffled = [...list].reverse();
      const other = make(kind, 7); // another process builds the same table
      for (let i = 0; i < 500; i++) {
        const first = lb.pick(list, { hashKey: `user-${i}` })!;
        expect(lb.pick(list, { hashKey: `user-${i}` })).toBe(first);
        expect(lb.pick(shuffled, { hashKey: `user-${i}` })!.address).toBe(first.address);
        expect(other.pick(shuffled, { hashKey: `user-${i}` })!.address).toBe(first.address);
      }
    });

    it('spreads distinct keys over equal endpoints', () => {
      const counts = tally(make(kind), eps(4), 8000, (i) => `user-${i}`);
      for (const c of counts.values()) expect(c / 8000).toBeGreaterThan(0.18);
    });
  }
});
