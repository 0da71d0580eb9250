/**
 * The fleet limiter's allowance logic on a fake clock (vitest's fake timers drive `performance.now`,
 * `setTimeout` and `setImmediate`), against a store that keeps exact buckets with `gcraLease` — the
 * reference the real store's Lua script is held to in test/fleet/rate-limits.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FallbackSwitch } from './fallback-switch.js';
import { FleetRateLimiter, LEASE_TTL_MS, LEASE_WAIT_MS, type Lease, type SharedBuckets } from './fleet-limiter.js';
import { compileRate, gcraLease, type Rate } from './gcra.js';

/** Exact shared buckets with a round trip of `latency` ms (granted half-way), or failing. */
class FakeStore implements SharedBuckets {
  latency = 2;
  failing: Error | undefined;
  leases = 0;
  probes = 0;
  private readonly tats = new Map<string, number>();
  constructor(private readonly rate: Rate) {}

  lease(key: string | undefined, want: number): Promise<Lease> {
    if (want === 0) this.probes++; else this.leases++;
    const g = compileRate(this.rate);
    const half = this.latency / 2;
    return new Promise((resolve, reject) => setTimeout(() => {
      if (this.failing) { reject(this.failing); return; }
      const k = key ?? '(route)';
      const r = gcraLease(g, this.tats.get(k) ?? 0, performance.now(), want);
      this.tats.set(k, r.tat);
      setTimeout(() => resolve({ granted: r.granted, retryMs: r.retryMs }), half);
    }, half));
  }
}

/** A deterministic uniform [0, 1) (a 32-bit LCG). */
function seeded(seed: number): () => number {
  let x = seed * 2654435761 >>> 0;
  return () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x / 2 ** 32; };
}

let seeds = 0;

interface Sidecar { limiter: FleetRateLimiter; fallback: FallbackSwitch; events: string[]; fallbackDecisions: number; connected: boolean }

function sidecar(store: FakeStore, rate: Rate, n: number, o: { maxKeys?: number; detached?: boolean } = {}): Sidecar {
  const events: string[] = [];
  const fallback = new FallbackSwitch({ enter: (why) => events.push(`enter: ${why}`), leave: () => events.push('leave') });
  const s: Sidecar = { limiter: undefined!, fallback, events, fallbackDecisions: 0, connected: true };
  s.limiter = new FleetRateLimiter({
    ...rate, maxKeys: o.maxKeys ?? 100, buckets: o.detached ? undefined : store, fallback,
    view: { connected: () => s.connected, sidecars: () => n }, onFallbackDecision: () => { s.fallbackDecisions++; }, random: seeded(++seeds),
  });
  return s;
}

/** Counts what one sidecar admits, whether it answered at once or later. */
class Tally {
  admitted = 0;
  refused = 0;
  waited = 0;
  readonly at: number[] = [];
  take(l: FleetRateLimiter, key?: string): void {
    const r = l.take(key);
    if (typeof r === 'number') { this.count(r); return; }
    this.waited++;
    void r.then((w) => this.count(w));
  }
  private count(w: number): void {
    if (w === 0) { this.admitted++; this.at.push(performance.now()); } else this.refused++;
  }
}

/** Offers `perSecond` requests to each sidecar, evenly, for `ms`, on the fake clock. */
async function offer(sidecars: readonly Sidecar[], tallies: readonly Tally[], perSecond: number, ms: number): Promise<void> {
  const gap = 1000 / perSecond;
  const end = performance.now() + ms;
  let next = performance.now();
  while (performance.now() < end) {
    while (next <= performance.now()) {
      sidecars.forEach((s, i) => tallies[i]!.take(s.limiter));
      next += gap;
    }
    await vi.advanceTimersByTimeAsync(1);
  }
}

beforeEach(() => { vi.useFakeTimers(); });
afterEach(() => { vi.useRealTimers(); });

describe('fleet rate limiter: the local allowance', () => {
  const rate = { requests: 600, per: 1000, burst: 60 };

  it('leases in batches (~100 ms of its share), answers from memory while they last, leases ahead when busy', async () => {
    const store = new FakeStore(rate);
    const s = sidecar(store, rate, 3); // share 200/s: batches of 20
    expect(s.limiter.stats().fleet).toMatchObject({ state: 'shared', sidecars: 3, batch: 20, fallbackRate: { requests: 200, per: 1000, burst: 20 } });
    const t = new Tally();
    await offer([s], [t], 150, 2000); // below its share: the shared bucket never runs dry
    expect(t.admitted).toBe(300);
    expect(t.refused).toBe(0);
    // One request waited for the first lease; every later one was answered from memory, because the
    // next batch was leased before the allowance ran out.
    expect(t.waited).toBe(1);
    expect(store.leases).toBeGreaterThanOrEqual(300 / 20);
    expect(store.leases).toBeLessThanOrEqual(300 / 10 + 1);
  });

  it('three sidecars, each offered 3× its share, admit the shared limit: never more than the overshoot bound over any window', async () => {
    const store = new FakeStore(rate);
    const sidecars = [0, 1, 2].map(() => sidecar(store, rate, 3));
    const tallies = sidecars.map(() => new Tally());
    const t0 = performance.now();
    await offer(sidecars, tallies, 600, 5000);
    const times = tallies.flatMap((t) => t.at).sort((a, b) => a - b);
    const total = times.length;
    // Exactly burst + rate × t is what an exact bucket admits; the held allowance bounds the excess.
    const exact = 60 + 600 * 5;
    const held = 3 * (20 + 10);
    expect(total).toBeLessThanOrEqual(exact + held);
    expect(total).toBeGreaterThan(exact * 0.97);
    for (let i = 0, j = 0; i < times.length; i++) { // every 1 s window
      while (times[j]! < times[i]! - 1000) j++;
      expect(i - j + 1).toBeLessThanOrEqual(60 + 600 + held);
    }
    // Fair: each sidecar gets about its share.
    for (const t of tallies) expect(t.admitted / total).toBeGreaterThan(0.25);
    expect(sidecars.every((s) => s.events.length === 0)).toBe(true);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(5000);
  });

  it('a burst at a dry allowance passes as in a local bucket; then a dry shared bucket refuses from memory, asking rarely', async () => {
    const r = { requests: 10, per: 1000, burst: 4 };
    const store = new FakeStore(r);
    const s = sidecar(store, r, 1); // batch 1 (100 ms of 10/s)
    const t = new Tally();
    for (let i = 0; i < 7; i++) t.take(s.limiter);
    await vi.advanceTimersByTimeAsync(20);
    // Four waited (a burst), three were refused at once; the first lease asked for one token, the
    // second for the three still waiting.
    expect([t.admitted, t.refused, t.waited]).toEqual([4, 3, 4]);
    expect(store.leases).toBe(2);
    const leases = store.leases;
    for (let i = 0; i < 300; i++) { t.take(s.limiter); await vi.advanceTimersByTimeAsync(1); }
    // Dry: a token every 100 ms, refused from memory in between with the wait the store gave —
    // about one lease per token, not one per request.
    expect(t.admitted).toBeGreaterThanOrEqual(4 + 2);
    expect(t.admitted).toBeLessThanOrEqual(4 + 3);
    expect(store.leases - leases).toBeLessThanOrEqual(5);
    const wait = s.limiter.take(undefined);
    expect(typeof wait === 'number' && wait > 0 && wait <= 150).toBe(true); // ≤ 100 ms, plus up to half again of jitter
  });

  it('an idle route leases on demand: a quiet sidecar holds no tokens it will not spend', async () => {
    const slow = { requests: 60, per: 60_000, burst: 10 };
    const store = new FakeStore(slow);
    const s = sidecar(store, slow, 2);
    const t = new Tally();
    for (let i = 0; i < 5; i++) { t.take(s.limiter); await vi.advanceTimersByTimeAsync(3000); }
    expect([t.admitted, t.waited]).toEqual([5, 5]); // each waited one round trip (2 ms here)
    expect(store.leases).toBe(5); // and nothing was leased ahead
    expect(s.limiter.remaining(undefined)).toBe(0);
  });

  it('unspent tokens are dropped after the lease ttl', async () => {
    const store = new FakeStore(rate);
    const s = sidecar(store, rate, 1);
    const t = new Tally();
    t.take(s.limiter);
    await vi.advanceTimersByTimeAsync(5);
    expect(s.limiter.remaining(undefined)).toBe(59); // batch min(60, 60) − the one spent
    await vi.advanceTimersByTimeAsync(LEASE_TTL_MS);
    expect(s.limiter.remaining(undefined)).toBe(0);
    expect(typeof s.limiter.take(undefined)).toBe('object'); // a fresh lease
  });

  it('keeps one allowance per key, at most maxKeys of them', async () => {
    const store = new FakeStore({ requests: 1, per: 60_000, burst: 2 });
    const s = sidecar(store, { requests: 1, per: 60_000, burst: 2 }, 1, { maxKeys: 3 });
    const t = new Tally();
    for (const k of ['a', 'a', 'a', 'b']) { t.take(s.limiter, k); await vi.advanceTimersByTimeAsync(3); }
    expect([t.admitted, t.refused]).toEqual([3, 1]); // a: 2 of 3; b: 1
    for (let i = 0; i < 10; i++) t.take(s.limiter, `k${i}`);
    await vi.advanceTimersByTimeAsync(3);
    expect(s.limiter.stats()).toMatchObject({ scope: 'fleet', keys: 3, maxKeys: 3 });
  });
});

describe('fleet rate limiter: when the store is gone', () => {
  const rate = { requests: 300, per: 1000, burst: 30 };

  it('not connected: local buckets at requests / N decide at once, logged once, counted; the shared bucket resumes after a probe', async () => {
    const store = new FakeStore(rate);
    const s = sidecar(store, rate, 3);
    const t = new Tally();
    s.connected = false;
    await offer([s], [t], 500, 2000);
    expect(t.waited).toBe(0); // never a promise: nothing waits for a store that is not there
    expect(store.leases + store.probes).toBe(0);
    expect(t.admitted).toBeGreaterThanOrEqual(10 + 200 - 1); // burst 30/3 + 100/s × 2 s
    expect(t.admitted).toBeLessThanOrEqual(10 + 200 + 1);
    expect(s.fallbackDecisions).toBe(1000);
    expect(s.events).toEqual(['enter: the fleet\'s Redis is not connected']);
    expect(s.limiter.stats().fleet).toMatchObject({ state: 'fallback', reason: 'the fleet\'s Redis is not connected' });

    s.connected = true;
    s.fallback.probeSoon();
    const before = t.admitted;
    await offer([s], [t], 500, 1000);
    expect(store.probes).toBe(1);
    expect(s.events).toEqual(['enter: the fleet\'s Redis is not connected', 'leave']);
    expect(s.limiter.stats().fleet!.state).toBe('shared');
    // Back on the shared bucket, alone: up to the whole rate again (its burst was full).
    expect(t.admitted - before).toBeGreaterThan(250);
  });

  it('a failing lease: the waiting request is decided locally at once (admitted), and the episode starts', async () => {
    const store = new FakeStore(rate);
    store.failing = new Error('Connection is closed.');
    const s = sidecar(store, rate, 2);
    const t = new Tally();
    t.take(s.limiter);
    await vi.advanceTimersByTimeAsync(3);
    expect([t.admitted, t.waited]).toEqual([1, 1]);
    expect(s.events).toEqual(['enter: a lease from the fleet\'s Redis failed: Connection is closed.']);
    expect(s.limiter.stats().fleet).toMatchObject({ state: 'fallback', fallbackRate: { requests: 150, burst: 15 } });
    // Probes keep failing (no leave), at most one per 250 ms.
    await offer([s], [t], 100, 1000);
    expect(store.probes).toBeGreaterThanOrEqual(3);
    expect(store.probes).toBeLessThanOrEqual(5);
    expect(s.events).toHaveLength(1);
  });

  it('a slow store: nobody waits longer than LEASE_WAIT_MS (decided locally, counted); slow is not gone: no episode', async () => {
    const store = new FakeStore(rate);
    store.latency = 400;
    const s = sidecar(store, rate, 1);
    const t = new Tally();
    t.take(s.limiter);
    await vi.advanceTimersByTimeAsync(LEASE_WAIT_MS - 1);
    expect(t.admitted).toBe(0);
    await vi.advanceTimersByTimeAsync(2);
    expect(t.admitted).toBe(1); // decided by the local bucket at the deadline
    expect(s.fallbackDecisions).toBe(1);
    for (let i = 0; i < 2; i++) { t.take(s.limiter); await vi.advanceTimersByTimeAsync(LEASE_WAIT_MS + 2); }
    expect([t.admitted, s.fallbackDecisions]).toEqual([3, 3]);
    await vi.advanceTimersByTimeAsync(400);
    // The late lease still counts: its batch (30) pays for the three admitted meanwhile, and the
    // rest serves the next requests from memory.
    expect(s.limiter.remaining(undefined)).toBe(27);
    expect(s.limiter.take(undefined)).toBe(0);
    expect(s.events).toEqual([]);
    expect(s.limiter.stats().fleet!.state).toBe('shared');
  });

  it('a slow store does not lift the fleet\'s limit: what local buckets admit while leases are late is paid back', async () => {
    const store = new FakeStore(rate);
    store.latency = 250;
    const sidecars = [0, 1, 2].map(() => sidecar(store, rate, 3));
    const tallies = sidecars.map(() => new Tally());
    await offer(sidecars, tallies, 300, 5000); // three times each one's share of 100/s
    const total = tallies.reduce((n, t) => n + t.admitted, 0);
    const decidedLocally = sidecars.reduce((n, s) => n + s.fallbackDecisions, 0);
    expect(decidedLocally).toBeGreaterThan(100); // leases were late all along
    // The exact bucket's count, the held allowance, and at most one round of debt per sidecar
    // (its local bucket's burst plus its rate over one lease's lateness) not yet paid back.
    const exact = 30 + 300 * 5;
    expect(total).toBeLessThanOrEqual(exact + 3 * (10 + 5) + 3 * (10 + 100 * 0.25));
    expect(sidecars.every((s) => s.events.length === 0)).toBe(true);
  });

  it('local buckets outlive an episode while N is unchanged: a flapping store hands out no fresh bursts', async () => {
    const store = new FakeStore({ requests: 1, per: 60_000, burst: 4 });
    const s = sidecar(store, { requests: 1, per: 60_000, burst: 4 }, 2); // fallback: burst 2
    const t = new Tally();
    s.connected = false;
    for (let i = 0; i < 5; i++) t.take(s.limiter);
    expect(t.admitted).toBe(2);
    s.connected = true;
    s.fallback.probeSoon();
    t.take(s.limiter); // probes, and is decided locally (refused)
    await vi.advanceTimersByTimeAsync(5);
    expect(s.events).toEqual([expect.stringMatching(/^enter/), 'leave']);
    s.connected = false;
    for (let i = 0; i < 5; i++) t.take(s.limiter);
    expect(t.admitted).toBe(2);
  });

  it('without a fleet (offline explain) it explains the local bucket it would fall back to', () => {
    const s = sidecar(new FakeStore(rate), rate, 1, { detached: true });
    expect(s.limiter.take(undefined)).toBe(0);
    expect(s.limiter.stats().fleet).toMatchObject({ state: 'detached', sidecars: 1 });
    expect(s.limiter.remaining(undefined)).toBe(29);
    expect(s.events).toEqual([]);
  });
});
