import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { UpstreamPolicy } from '../config/index.js';
import { BucketTicker } from './bucket-ticker.js';
import { CircuitBreaker, type BreakerTransition, type CircuitBreakerOptions, type Settled } from './circuit-breaker.js';
import { CircuitOpenError } from './errors.js';
import { Opossum, type OpossumBreaker, type OpossumOptions } from './opossum.js';
import { mulberry32 } from '../routing/seeded-random.js';

// The policy's block is accepted as-is (type-level check).
const fromPolicy: CircuitBreakerOptions = {} as NonNullable<UpstreamPolicy['circuitBreaker']>;
void fromPolicy;

const OPTIONS: CircuitBreakerOptions = { errorThresholdPercentage: 50, volumeThreshold: 20, rollingWindow: 10_000, resetTimeout: 30_000 };
const byStatus = (s: Settled<number>): boolean => (s.ok ? s.value >= 500 : true);

function make(options: Partial<CircuitBreakerOptions> = {}): { breaker: CircuitBreaker; transitions: BreakerTransition[] } {
  const breaker = new CircuitBreaker({ ...OPTIONS, ...options }, { name: 'reviews/v1' });
  const transitions: BreakerTransition[] = [];
  breaker.on('stateChange', (t) => transitions.push(t));
  return { breaker, transitions };
}

async function call(breaker: CircuitBreaker, status: number): Promise<number> {
  return breaker.execute(async () => status, byStatus);
}

async function calls(breaker: CircuitBreaker, status: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await call(breaker, status);
}

describe('CircuitBreaker', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('stays closed below the volume threshold, however many fail', async () => {
    const { breaker } = make();
    await calls(breaker, 503, 19);
    expect(breaker.state).toBe('closed');
    await call(breaker, 503);
    expect(breaker.state).toBe('open');
    breaker.dispose();
  });

  it('opens when the failure rate reaches the threshold (>=, not opossum\'s >)', async () => {
    const below = make().breaker;
    await calls(below, 200, 11);
    await calls(below, 503, 9); // 9 of 20 = 45%
    expect(below.state).toBe('closed');
    below.dispose();

    const at = make().breaker;
    await calls(at, 200, 10);
    await calls(at, 503, 10); // 10 of 20 = 50%
    expect(at.state).toBe('open');
    at.dispose();
  });

  it('threshold 100 opens only when every call in the window failed', async () => {
    const { breaker } = make({ errorThresholdPercentage: 100, volumeThreshold: 5 });
    await call(breaker, 200);
    await calls(breaker, 503, 20);
    expect(breaker.state).toBe('closed');
    vi.advanceTimersByTime(10_000); // the success rolls out of the window
    await calls(breaker, 503, 5);
    expect(breaker.state).toBe('open');
    breaker.dispose();
  });

  it('counts 4xx as successes: they never open it', async () => {
    const { breaker } = make({ volumeThreshold: 1, errorThresholdPercentage: 1 });
    await calls(breaker, 404, 100);
    await calls(breaker, 409, 100);
    expect(breaker.state).toBe('closed');
    expect(breaker.stats()).toMatchObject({ failures: 0, successes: 200 });
    breaker.dispose();
  });

  it('returns a failed value to the caller and counts it', async () => {
    const { breaker } = make();
    await expect(call(breaker, 503)).resolves.toBe(503);
    expect(breaker.stats()).toMatchObject({ fires: 1, failures: 1 });
    breaker.dispose();
  });

  it('rethrows errors unchanged, counting them as the classifier says', async () => {
    const { breaker } = make({ volumeThreshold: 2 });
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const clientLeft = new Error('client left');
    const classify = (s: Settled<number>): boolean => !s.ok && s.error === reset;
    await expect(breaker.execute(() => Promise.reject(clientLeft), classify)).rejects.toBe(clientLeft);
    expect(breaker.stats()).toMatchObject({ failures: 0, successes: 1 });
    await expect(breaker.execute(() => Promise.reject(reset), classify)).rejects.toBe(reset);
    expect(breaker.stats()).toMatchObject({ failures: 1 });
    breaker.dispose();
  });

  it('fails fast while open without calling the action', async () => {
    const { breaker } = make({ volumeThreshold: 1 });
    await call(breaker, 500);
    expect(breaker.state).toBe('open');
    const action = vi.fn(async () => 200);
    const rejects = vi.fn();
    breaker.on('reject', rejects);
    const err = await breaker.execute(action, byStatus).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CircuitOpenError);
    expect(err).toMatchObject({ flag: 'CO', status: 503, code: 'circuit_open' });
    expect(action).not.toHaveBeenCalled();
    expect(rejects).toHaveBeenCalledTimes(1);
    breaker.dispose();
  });

  it('goes half-open after resetTimeout, admits exactly one trial, and closes on its success', async () => {
    const { breaker, transitions } = make({ volumeThreshold: 1 });
    await call(breaker, 500);
    vi.advanceTimersByTime(29_999);
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(1);
    expect(breaker.state).toBe('half-open');
    expect(breaker.stateCode).toBe(1);

    let finish!: (status: number) => void;
    const trial = breaker.execute(() => new Promise<number>((r) => { finish = r; }), byStatus);
    const second = vi.fn(async () => 200);
    await expect(breaker.execute(second, byStatus)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(second).not.toHaveBeenCalled();
    finish(200);
    await expect(trial).resolves.toBe(200);
    expect(breaker.state).toBe('closed');
    expect(transitions.map((t) => [t.from, t.to, t.code])).toEqual([
      ['closed', 'open', 2], ['open', 'half-open', 1], ['half-open', 'closed', 0],
    ]);
    breaker.dispose();
  });

  it('re-opens when the half-open trial fails, and tries again after another resetTimeout', async () => {
    const { breaker } = make({ volumeThreshold: 1 });
    await call(breaker, 500);
    vi.advanceTimersByTime(30_000);
    await call(breaker, 502);
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(30_000);
    expect(breaker.state).toBe('half-open');
    await call(breaker, 200);
    expect(breaker.state).toBe('closed');
    breaker.dispose();
  });

  it('does not close on a half-open trial that ended without evidence (excused error)', async () => {
    const { breaker, transitions } = make({ volumeThreshold: 1 });
    await call(breaker, 500);
    vi.advanceTimersByTime(30_000);
    const clientLeft = new Error('client left');
    await expect(breaker.execute(() => Promise.reject(clientLeft), () => false)).rejects.toBe(clientLeft);
    expect(breaker.state).toBe('open');
    expect(transitions.map((t) => t.to)).toEqual(['open', 'half-open', 'open']);
    breaker.dispose();
  });

  it('starts from an empty window after closing', async () => {
    const { breaker } = make({ volumeThreshold: 4, resetTimeout: 1_000 });
    await calls(breaker, 503, 4);
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(1_000);
    await call(breaker, 200);
    expect(breaker.state).toBe('closed');
    expect(breaker.stats()).toMatchObject({ fires: 0, failures: 0 });
    await call(breaker, 503); // would re-open at once against the old window (5/6 failed)
    expect(breaker.state).toBe('closed');
    breaker.dispose();
  });

  it('forgets failures older than the rolling window', async () => {
    const { breaker } = make();
    await calls(breaker, 503, 15);
    vi.advanceTimersByTime(10_000);
    expect(breaker.stats().fires).toBe(0);
    await calls(breaker, 503, 5);
    expect(breaker.state).toBe('closed');
    breaker.dispose();
  });

  it('slides the window one bucket at a time', async () => {
    const { breaker } = make({ volumeThreshold: 10 });
    await calls(breaker, 503, 6);
    vi.advanceTimersByTime(5_000);
    await calls(breaker, 200, 6); // 6/12 = 50% but the failures are still in the window
    vi.advanceTimersByTime(5_000); // the first 6 leave
    expect(breaker.stats()).toMatchObject({ fires: 6, failures: 0 });
    breaker.dispose();
  });

  it('runs the action unprotected after dispose', async () => {
    const { breaker } = make({ volumeThreshold: 1 });
    await call(breaker, 500);
    breaker.dispose();
    await expect(call(breaker, 200)).resolves.toBe(200);
  });
});

describe('CircuitBreaker timers', () => {
  afterEach(() => { vi.useRealTimers(); });

  it('many breakers share one bucket timer; dispose leaves no timer behind, even while open', async () => {
    vi.useFakeTimers();
    const ticker = new BucketTicker();
    const breakers = Array.from({ length: 200 }, (_, i) => new CircuitBreaker({ ...OPTIONS, volumeThreshold: 1 }, { name: `u${i}`, ticker }));
    expect(vi.getTimerCount()).toBe(1);
    for (const b of breakers) await call(b, 503); // each opens: one reset timer each
    expect(breakers.every((b) => b.state === 'open')).toBe(true);
    expect(vi.getTimerCount()).toBe(201);
    for (const b of breakers) b.dispose();
    expect(ticker.timerCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('breakers with different windows get one timer per bucket width', () => {
    vi.useFakeTimers();
    const ticker = new BucketTicker();
    const a = new CircuitBreaker(OPTIONS, { ticker });
    const b = new CircuitBreaker({ ...OPTIONS, rollingWindow: 5_000 }, { ticker });
    const c = new CircuitBreaker(OPTIONS, { ticker });
    expect(ticker.timerCount).toBe(2);
    a.dispose(); b.dispose();
    expect(ticker.timerCount).toBe(1);
    c.dispose();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never holds the event loop open (real timers)', async () => {
    const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timeouts();
    const breaker = new CircuitBreaker({ ...OPTIONS, volumeThreshold: 1 });
    await call(breaker, 503);
    expect(breaker.state).toBe('open');
    expect(timeouts()).toBe(before); // bucket interval and reset timer are both unref'd
    breaker.dispose();
    expect(timeouts()).toBe(before);
  });
});

describe('CircuitBreaker against opossum\'s own fire', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  // The reference: a bare opossum breaker with the options CircuitBreaker gives its own, every call
  // through opossum's `fire` (its promise, events and semaphore), classified as this wrapper always
  // did it — a failed value rejects inside the action, an excused error is marked for `errorFilter`
  // unless the call is the half-open trial — and its window emptied when it closes.
  type Kind = 'ok' | 'failed-value' | 'counted-error' | 'excused-error';
  class Excused { constructor(readonly error: unknown) {} }
  function reference(options: CircuitBreakerOptions, ticker: BucketTicker): { ref: OpossumBreaker; fire: (kind: Kind, gate: Promise<void>) => Promise<unknown> } {
    const rotator = new EventEmitter();
    const buckets = options.rollingBuckets ?? 10;
    ticker.subscribe(options.rollingWindow / buckets, () => rotator.emit('rotate'));
    const ref = new Opossum(async (kind: Kind, gate: Promise<void>, trial: boolean) => {
      await gate;
      if (kind === 'failed-value') throw new Error('503');
      if (kind === 'counted-error') throw new Error('reset');
      if (kind === 'excused-error') throw trial ? new Error('client left (trial)') : new Excused(new Error('client left'));
      return 200;
    }, {
      name: 'ref', timeout: false, resetTimeout: options.resetTimeout, errorThresholdPercentage: options.errorThresholdPercentage - 1e-9,
      volumeThreshold: options.volumeThreshold, rollingCountTimeout: options.rollingWindow, rollingCountBuckets: buckets,
      rollingPercentilesEnabled: false, enableSnapshots: false, rotateBucketController: rotator, allowWarmUp: false,
      errorFilter: (err: unknown) => err instanceof Excused,
    } as OpossumOptions) as OpossumBreaker & { fire: (...args: unknown[]) => Promise<unknown> };
    ref.on('close', () => { for (let i = 0; i < buckets; i++) rotator.emit('rotate'); });
    return { ref, fire: (kind, gate) => ref.fire(kind, gate, ref.halfOpen) };
  }
  const refState = (ref: OpossumBreaker): string => (ref.closed ? 'closed' : ref.halfOpen ? 'half-open' : 'open');
  const flush = async (): Promise<void> => { for (let i = 0; i < 12; i++) await Promise.resolve(); };

  it.each([1, 2, 3, 4, 5, 6])('keeps the same state, counts and admissions through a random run of concurrent calls (seed %i)', async (seed) => {
    const random = mulberry32(seed);
    const options: CircuitBreakerOptions = { errorThresholdPercentage: 40, volumeThreshold: 5, rollingWindow: 1_000, resetTimeout: 700, rollingBuckets: 5 };
    const ticker = new BucketTicker();
    const breaker = new CircuitBreaker(options, { name: 'u', ticker });
    const { ref, fire } = reference(options, ticker);
    const byKind = (s: Settled<number>): boolean => (s.ok ? s.value >= 500 : (s.error as Error).message !== 'client left');
    const pending: { open: () => void }[] = [];
    const outcomes: { ours: string; theirs: string }[] = [];
    let transitions = 0;
    breaker.on('stateChange', () => { transitions++; });
    for (let step = 0; step < 600; step++) {
      const r = random();
      if (r < 0.45) {
        const kinds: Kind[] = ['ok', 'ok', 'failed-value', 'counted-error', 'excused-error'];
        const kind = kinds[Math.floor(random() * kinds.length)]!;
        let open!: () => void;
        const gate = new Promise<void>((resolve) => { open = resolve; });
        const outcome = { ours: 'pending', theirs: 'pending' };
        outcomes.push(outcome);
        breaker.execute(async () => {
          await gate;
          if (kind === 'failed-value') return 503;
          if (kind === 'counted-error') throw new Error('reset');
          if (kind === 'excused-error') throw new Error('client left');
          return 200;
        }, byKind).then((v) => { outcome.ours = `value ${v}`; }, (e: unknown) => { outcome.ours = e instanceof CircuitOpenError ? 'refused' : 'error'; });
        fire(kind, gate).then(() => { outcome.theirs = 'value 200'; }, (e: { code?: string; message?: string }) => {
          outcome.theirs = e.code === 'EOPENBREAKER' ? 'refused' : e.message === '503' ? 'value 503' : 'error';
        });
        pending.push({ open });
      } else if (r < 0.85 && pending.length > 0) {
        pending.splice(Math.floor(random() * pending.length), 1)[0]!.open();
      } else {
        vi.advanceTimersByTime(Math.floor(random() * 300));
      }
      await flush();
      expect(breaker.state, `step ${step}`).toBe(refState(ref));
      const { fires, failures, successes, rejects } = ref.stats;
      expect(breaker.stats(), `step ${step}`).toEqual({ fires, failures, successes, rejects });
    }
    for (const p of pending) p.open();
    await flush();
    for (const o of outcomes) expect(o.ours).toBe(o.theirs);
    // The run went through every state, more than once.
    expect(transitions).toBeGreaterThan(6);
    expect(outcomes.filter((o) => o.ours === 'refused').length).toBeGreaterThan(0);
    breaker.dispose();
    ref.shutdown();
    ticker.dispose();
  });
});
