/** least-request and ewma: the balancers that learn from feedback. Fake clock, seeded randomness. */
import { describe, expect, it } from 'vitest';
import { createLoadBalancer } from './create-balancer.js';
import { LoadTracker } from './load-tracker.js';
import { mulberry32 } from '../seeded-random.js';


const eps = ['a:1', 'b:1', 'c:1'].map((address) => ({ address }));

describe('least-request (power of two choices)', () => {
  it('never picks the most loaded of three when the other two are idle', () => {
    const lb = createLoadBalancer('least-request', { random: mulberry32(3) });
    for (let i = 0; i < 10; i++) lb.onRequestStart('a:1');
    for (let i = 0; i < 1000; i++) expect(lb.pick(eps)?.address).not.toBe('a:1');
  });

  it('prefers less-loaded endpoints in proportion to their load', () => {
    const lb = createLoadBalancer('least-request', { random: mulberry32(4) });
    for (let i = 0; i < 5; i++) lb.onRequestStart('a:1');
    for (let i = 0; i < 2; i++) lb.onRequestStart('b:1');
    const counts: Record<string, number> = {};
    for (let i = 0; i < 3000; i++) { const e = lb.pick(eps)!; counts[e.address] = (counts[e.address] ?? 0) + 1; }
    // P2C over 3: the least loaded wins 2 of 3 pairs (≈ 2/3), the middle one 1/3, the most loaded 0.
    expect(counts['c:1']! / 3000).toBeGreaterThan(0.6);
    expect(counts['a:1'] ?? 0).toBe(0);
  });

  it('balances in-flight load when requests overlap', () => {
    const lb = createLoadBalancer('least-request', { random: mulberry32(5) });
    const inflight: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const e = lb.pick(eps)!;
      lb.onRequestStart(e.address);
      inflight.push(e.address);
      if (inflight.length > 30) lb.onRequestEnd(inflight.shift()!, 1, true);
    }
    const load = eps.map((e) => inflight.filter((a) => a === e.address).length);
    expect(Math.max(...load) - Math.min(...load)).toBeLessThanOrEqual(3);
  });

  it('shares in-flight counts between balancers given one tracker', () => {
    const tracker = new LoadTracker();
    const v1 = createLoadBalancer('least-request', { tracker, random: mulberry32(6) });
    const v2 = createLoadBalancer('least-request', { tracker, random: mulberry32(6) });
    for (let i = 0; i < 4; i++) v1.onRequestStart('a:1');
    for (let i = 0; i < 200; i++) expect(v2.pick(eps.slice(0, 2))?.address).toBe('b:1');
  });
});

describe('ewma (peak-EWMA power of two choices)', () => {
  it('shifts away from a slow endpoint at once, and back after it recovers', () => {
    let now = 0;
    const lb = createLoadBalancer('ewma', { random: mulberry32(7), tracking: { now: () => now, decayMs: 10_000 } });
    const record = (address: string, ms: number): void => { lb.onRequestStart(address); lb.onRequestEnd(address, ms, true); };
    record('a:1', 400);
    record('b:1', 10);
    record('c:1', 10);
    now += 100;
    let slow = 0;
    for (let i = 0; i < 1000; i++) if (lb.pick(eps)!.address === 'a:1') slow++;
    expect(slow).toBe(0);

    // Traffic keeps flowing to b and c at 10 ms; a's estimate decays until it is tried again.
    let tried = false;
    for (let t = 0; t < 120_000 && !tried; t += 100) {
      now += 100;
      const e = lb.pick(eps)!;
      if (e.address === 'a:1') tried = true;
      else record(e.address, 10);
    }
    expect(tried).toBe(true);
  });

  it('weights latency by requests in flight', () => {
    let now = 0;
    const lb = createLoadBalancer('ewma', { random: mulberry32(8), tracking: { now: () => now } });
    lb.onRequestStart('a:1'); lb.onRequestEnd('a:1', 20, true);
    lb.onRequestStart('b:1'); lb.onRequestEnd('b:1', 30, true);
    now += 1;
    expect(lb.pick(eps.slice(0, 2))?.address).toBe('a:1');
    for (let i = 0; i < 3; i++) lb.onRequestStart('a:1'); // 20 × 4 > 30 × 1
    expect(lb.pick(eps.slice(0, 2))?.address).toBe('b:1');
  });

  it('does not reward endpoints that fail fast', () => {
    let now = 0;
    const lb = createLoadBalancer('ewma', { random: mulberry32(9), tracking: { now: () => now } });
    for (let i = 0; i < 5; i++) {
      lb.onRequestStart('a:1'); lb.onRequestEnd('a:1', 1, false);
      lb.onRequestStart('b:1'); lb.onRequestEnd('b:1', 30, true);
      now += 10;
    }
    expect(lb.pick(eps.slice(0, 2))?.address).toBe('b:1');
  });
});

describe('LoadTracker', () => {
  it('moves the estimate toward observations and jumps to peaks', () => {
    let now = 0;
    const t = new LoadTracker({ now: () => now, defaultRttMs: 30, decayMs: 1000 });
    expect(t.estimate('x')).toBe(30);
    t.end('x', 100, true);
    expect(t.estimate('x')).toBe(100); // peak: immediately
    now += 1000;
    t.end('x', 10, true);
    // 10 < 100/e (the decayed estimate), so it blends in with weight 1 − e^(−Δt/decay) = 1 − 1/e.
    const blended = 100 / Math.E + 10 * (1 - 1 / Math.E);
    expect(t.estimate('x')).toBeCloseTo(blended, 9);
    now += 1000;
    expect(t.estimate('x')).toBeCloseTo(blended / Math.E, 9); // unobserved: decays toward 0
  });
  it('without latency tracking keeps in-flight counts only, and still forgets idle endpoints', () => {
    let now = 0;
    const t = new LoadTracker({ now: () => now, latency: false, maxTracked: 10, decayMs: 100 });
    t.start('x'); t.start('x'); t.end('x', 500, true);
    expect(t.pending('x')).toBe(1);
    expect(t.estimate('x')).toBe(30); // no observation recorded
    for (let i = 0; i < 20; i++) { t.start(`e${i}`); t.end(`e${i}`, 1, true); }
    now += 1000;
    t.end('new', 1, true);
    expect((t as unknown as { stats: Map<string, unknown> }).stats.size).toBeLessThanOrEqual(3);
    expect(t.pending('x')).toBe(1);
  });
  it('never counts pending below zero', () => {
    const t = new LoadTracker();
    t.end('x', 1, true);
    expect(t.pending('x')).toBe(0);
  });
  it('forgets idle endpoints beyond maxTracked', () => {
    let now = 0;
    const t = new LoadTracker({ now: () => now, maxTracked: 10, decayMs: 100 });
    for (let i = 0; i < 20; i++) { t.start(`e${i}`); t.end(`e${i}`, 1, true); }
    now += 1000;
    t.start('busy'); t.end('new', 1, true);
    expect((t as unknown as { stats: Map<string, unknown> }).stats.size).toBeLessThanOrEqual(3);
    expect(t.pending('busy')).toBe(1);
  });
});

describe('round-robin', () => {
  it('rotates through the list in order', () => {
    const lb = createLoadBalancer('round-robin', { random: () => 0 });
    expect(Array.from({ length: 6 }, () => lb.pick(eps)!.address)).toEqual(['a:1', 'b:1', 'c:1', 'a:1', 'b:1', 'c:1']);
  });
  it('skips tried endpoints on a retry', () => {
    const lb = createLoadBalancer('round-robin', { random: () => 0 });
    expect(lb.pick(eps, { exclude: new Set(['a:1', 'b:1']) })!.address).toBe('c:1');
    expect(lb.pick(eps)!.address).toBe('a:1');
  });
});
