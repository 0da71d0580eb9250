import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NO_FAULT } from './fault-policy.js';
import { RuntimeFaults, type RuntimeFault, type RuntimeFaultInput } from './runtime-faults.js';

const ABORT: RuntimeFaultInput = { route: 'reviews', abort: { status: 503, percent: 100 }, ttl: 60_000 };

describe('RuntimeFaults', () => {
  let faults: RuntimeFaults;
  beforeEach(() => { vi.useFakeTimers(); faults = new RuntimeFaults(); });
  afterEach(() => { faults.dispose(); vi.useRealTimers(); });

  it('adds, lists, gets and removes faults by id', () => {
    const removed: RuntimeFault[] = [];
    faults.on('removed', (f) => removed.push(f));
    const now = Date.now();
    const a = faults.add(ABORT);
    const b = faults.add({ upstream: 'ratings', delay: { fixed: 200, percent: 10 }, on: 'attempt', ttl: 5_000 });
    expect(a).not.toBe(b);
    expect(faults.list()).toEqual([
      { id: a, route: 'reviews', on: 'request', abort: { status: 503, percent: 100 }, createdAt: now, expiresAt: now + 60_000 },
      { id: b, upstream: 'ratings', on: 'attempt', delay: { fixed: 200, percent: 10 }, createdAt: now, expiresAt: now + 5_000 },
    ]);
    expect(faults.get(b)?.upstream).toBe('ratings');
    expect(faults.remove(a)).toBe(true);
    expect(faults.remove(a)).toBe(false);
    expect(faults.list().map((f) => f.id)).toEqual([b]);
    expect(removed.map((f) => f.id)).toEqual([a]);
  });

  it('forgets a fault once its TTL has passed, on read', () => {
    faults.add({ ...ABORT, ttl: 1_500 });
    vi.setSystemTime(Date.now() + 1_500);
    expect(faults.list()).toHaveLength(1);
    vi.setSystemTime(Date.now() + 1);
    expect(faults.list()).toHaveLength(0);
    expect(faults.decide('reviews', 'x', 'request')).toBe(NO_FAULT);
  });

  it('reports expiry on its own, without any read, within the check period', async () => {
    const expired: string[] = [];
    faults.on('expired', (f) => expired.push(f.id));
    const id = faults.add({ ...ABORT, ttl: 2_500 });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(expired).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(expired).toEqual([id]);
  });

  it('matches by route, by upstream, by both, and by stage', () => {
    const route = faults.add({ route: 'r1', abort: { status: 500, percent: 100 }, ttl: 60_000 });
    const upstream = faults.add({ upstream: 'u1', abort: { status: 501, percent: 100 }, ttl: 60_000 });
    const both = faults.add({ route: 'r1', upstream: 'u2', abort: { status: 502, percent: 100 }, ttl: 60_000 });
    const attempt = faults.add({ upstream: 'u1', on: 'attempt', delay: { fixed: 7, percent: 100 }, ttl: 60_000 });
    const ids = (r: string, u: string, s: 'request' | 'attempt'): string[] => faults.match(r, u, s).map((f) => f.id);
    expect(ids('r1', 'u1', 'request')).toEqual([route, upstream]);
    expect(ids('r1', 'u2', 'request')).toEqual([route, both]);
    expect(ids('r2', 'u2', 'request')).toEqual([]);
    expect(ids('r2', 'u1', 'attempt')).toEqual([attempt]);
    expect(faults.decide('r1', 'u1', 'request')).toEqual({ abortStatus: 500 });
    expect(faults.decide('r9', 'u1', 'attempt')).toEqual({ delayMs: 7 });
  });

  it('decides with the injected random source', () => {
    const seeded = new RuntimeFaults({ random: () => 0.3 });
    seeded.add({ route: 'r', abort: { status: 503, percent: 30 }, delay: { fixed: 1, percent: 31 }, ttl: 1_000 });
    expect(seeded.decide('r', 'u', 'request')).toEqual({ delayMs: 1 });
    seeded.dispose();
  });

  it.each([
    [{ abort: { status: 503, percent: 1 }, ttl: 1 }, /route or an upstream/],
    [{ route: 'r', ttl: 1 }, /delay or an abort/],
    [{ ...ABORT, ttl: 0 }, /ttl/],
    [{ ...ABORT, ttl: Number.NaN }, /ttl/],
    [{ ...ABORT, abort: { status: 99, percent: 1 } }, /status/],
    [{ ...ABORT, abort: { status: 503, percent: 101 } }, /percent/],
    [{ route: 'r', delay: { fixed: -1, percent: 1 }, ttl: 1 }, /fixed/],
  ] as [RuntimeFaultInput, RegExp][])('rejects %j', (input, message) => {
    expect(() => faults.add(input)).toThrow(message);
    expect(faults.list()).toEqual([]);
  });

  it('caps the number of live faults', () => {
    const small = new RuntimeFaults({ maxFaults: 2 });
    small.add(ABORT);
    small.add({ ...ABORT, ttl: 10 });
    expect(() => small.add(ABORT)).toThrow(RangeError);
    vi.setSystemTime(Date.now() + 11);
    expect(() => small.add(ABORT)).not.toThrow();
    small.dispose();
  });

  it('treats hostile ids as unknown', () => {
    faults.add(ABORT);
    for (const id of ['__proto__', 'constructor', 'toString']) {
      expect(faults.get(id)).toBeUndefined();
      expect(faults.remove(id)).toBe(false);
    }
    expect(faults.list()).toHaveLength(1);
  });

  it('dispose clears its housekeeping timer', () => {
    faults.add(ABORT);
    expect(vi.getTimerCount()).toBe(1);
    faults.dispose();
    expect(vi.getTimerCount()).toBe(0);
    expect(faults.list()).toEqual([]);
  });
});

describe('RuntimeFaults timers (real)', () => {
  it('never holds the event loop open', () => {
    const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timeouts();
    const faults = new RuntimeFaults();
    faults.add(ABORT);
    expect(timeouts()).toBe(before);
    faults.dispose();
  });
});
