import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLoadBalancer } from './balancers/create-balancer.js';
import { SessionAffinity } from './session-affinity.js';

const ep = (address: string): { address: string } => ({ address });

describe('SessionAffinity', () => {
  let table: SessionAffinity;
  beforeEach(() => { vi.useFakeTimers(); table = new SessionAffinity({ ttl: 60_000 }); });
  afterEach(() => { table.close(); vi.useRealTimers(); });

  it('remembers the first choice while its endpoint is eligible', () => {
    const all = [ep('a'), ep('b'), ep('c')];
    expect(table.resolve('s1', all, () => all[1])?.address).toBe('b');
    expect(table.resolve('s1', all, () => all[2])?.address).toBe('b');
  });

  it('remaps a session whose endpoint died once, then keeps it there when the old one returns', () => {
    const ring = createLoadBalancer('ring-hash');
    const all = [ep('10.0.0.1:80'), ep('10.0.0.2:80'), ep('10.0.0.3:80')];
    const choose = (list: typeof all) => () => ring.pick(list, { hashKey: 'session-42' });
    const home = table.resolve('session-42', all, choose(all))!;
    const survivors = all.filter((e) => e !== home);
    const moved = table.resolve('session-42', survivors, choose(survivors))!;
    expect(moved.address).not.toBe(home.address);
    // The old endpoint is back: consistent hashing alone would send the session home again.
    expect(ring.pick(all, { hashKey: 'session-42' })?.address).toBe(home.address);
    expect(table.resolve('session-42', all, choose(all))?.address).toBe(moved.address);
  });

  it('passes over a tried endpoint on a retry without forgetting it', () => {
    const all = [ep('a'), ep('b')];
    table.resolve('s', all, () => all[0]);
    expect(table.resolve('s', all, () => all[1], new Set(['a']))?.address).toBe('b');
    expect(table.peek('s')).toBe('a');
    expect(table.resolve('s', all, () => all[1])?.address).toBe('a');
  });

  it('forgets a session idle for longer than ttl; each use extends it', () => {
    const all = [ep('a'), ep('b')];
    table.resolve('s', all, () => all[0]);
    vi.advanceTimersByTime(50_000);
    table.resolve('s', all, () => all[1]); // used: 60 s more
    vi.advanceTimersByTime(50_000);
    expect(table.peek('s')).toBe('a');
    vi.advanceTimersByTime(11_000);
    expect(table.peek('s')).toBeUndefined();
    expect(table.resolve('s', all, () => all[1])?.address).toBe('b');
  });

  it('is safe with hostile keys and bounded in size', () => {
    const small = new SessionAffinity({ ttl: 60_000, maxSessions: 3 });
    const all = [ep('a')];
    for (const k of ['__proto__', 'constructor', 'hasOwnProperty', 'x', 'y']) expect(small.resolve(k, all, () => all[0])?.address).toBe('a');
    expect(small.size).toBe(3);
    expect(small.peek('__proto__')).toBe('a');
    small.close();
  });

  it('returns undefined when nothing is eligible', () => {
    expect(table.resolve('s', [], () => undefined)).toBeUndefined();
  });
});
