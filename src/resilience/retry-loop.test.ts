import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RoutePolicy } from '../config/index.js';
import type { Outcome } from './outcome.js';
import { RetryLoop, type Attempt, type RetryInfo, type RetryLoopOptions, type RunOptions } from './retry-loop.js';

const fromPolicy: RetryLoopOptions = {} as NonNullable<RoutePolicy['retries']>;
void fromPolicy;

const OPTIONS: RetryLoopOptions = { attempts: 3, retryOn: ['5xx', 'connect-failure'], backoff: { base: 25, max: 250 } };

/** Tries that come to the scripted outcomes in turn, each on endpoint `e<n>`. */
function script(outcomes: Outcome[], retryAfterMs?: number): Attempt<string> & { seen: { n: number; excluded: string[] }[] } {
  const seen: { n: number; excluded: string[] }[] = [];
  const attempt: Attempt<string> = async (n, excluded) => {
    seen.push({ n, excluded: [...excluded] });
    const outcome = outcomes[n] ?? 200;
    return { outcome, result: `try ${n}: ${outcome}`, endpoint: `e${n}`, retryAfterMs };
  };
  return Object.assign(attempt, { seen });
}

const runOpts = (extra: Partial<RunOptions> = {}): RunOptions => ({ method: 'GET', deadline: performance.now() + 15_000, ...extra });

describe('RetryLoop', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('retries retriable outcomes into a success, excluding endpoints already tried', async () => {
    const loop = new RetryLoop(OPTIONS);
    const attempt = script([503, 'connect-failure', 200]);
    const retries: RetryInfo[] = [];
    const done = loop.run(attempt, runOpts({ onRetry: (r) => retries.push(r) }));
    await vi.runAllTimersAsync();
    await expect(done).resolves.toEqual({ result: 'try 2: 200', outcome: 200, tries: 3, stop: 'done', exhausted: false });
    expect(attempt.seen).toEqual([{ n: 0, excluded: [] }, { n: 1, excluded: ['e0'] }, { n: 2, excluded: ['e0', 'e1'] }]);
    expect(retries.map((r) => [r.retry, r.outcome, r.endpoint])).toEqual([[1, 503, 'e0'], [2, 'connect-failure', 'e1']]);
    expect(retries[0]!.delayMs).toBeLessThan(25);
    expect(retries[1]!.delayMs).toBeLessThan(50);
  });

  it('takes a first try made by the caller: settles() says when it ends the request, run() carries on from it', async () => {
    const loop = new RetryLoop(OPTIONS);
    expect(loop.settles(200, 'GET')).toBe(true);
    expect(loop.settles(404, 'GET')).toBe(true);
    expect(loop.settles(503, 'GET')).toBe(false);
    expect(loop.settles('connect-failure', 'POST')).toBe(false);
    const attempt = script([503, 200]);
    const done = loop.run(attempt, runOpts(), { outcome: 503, result: 'first: 503', endpoint: 'e0' });
    await vi.runAllTimersAsync();
    await expect(done).resolves.toEqual({ result: 'try 1: 200', outcome: 200, tries: 2, stop: 'done', exhausted: false });
    expect(attempt.seen).toEqual([{ n: 1, excluded: ['e0'] }]); // the first try is not made again
  });

  it('makes at most 1 + attempts tries and returns the last answer, exhausted', async () => {
    const loop = new RetryLoop(OPTIONS);
    const attempt = script([503, 503, 503, 502, 200]);
    const done = loop.run(attempt, runOpts());
    await vi.runAllTimersAsync();
    await expect(done).resolves.toEqual({ result: 'try 3: 502', outcome: 502, tries: 4, stop: 'attempts', exhausted: true });
  });

  it('does not retry what retryOn does not cover', async () => {
    const loop = new RetryLoop({ ...OPTIONS, retryOn: ['gateway-error'] });
    const result = await loop.run(script([500]), runOpts());
    expect(result).toMatchObject({ tries: 1, stop: 'done', exhausted: false });
  });

  it('retries a POST only after a connect failure, unless nonIdempotent', async () => {
    const loop = new RetryLoop(OPTIONS);
    await expect(loop.run(script([503]), runOpts({ method: 'POST' }))).resolves.toMatchObject({ tries: 1, stop: 'non-idempotent', exhausted: false, skipped: 'non-idempotent' });
    const refused = loop.run(script(['connect-failure', 200]), runOpts({ method: 'POST' }));
    await vi.runAllTimersAsync();
    await expect(refused).resolves.toMatchObject({ tries: 2, outcome: 200 });
    const anyway = new RetryLoop({ ...OPTIONS, nonIdempotent: true }).run(script([503, 200]), runOpts({ method: 'POST' }));
    await vi.runAllTimersAsync();
    await expect(anyway).resolves.toMatchObject({ tries: 2, outcome: 200 });
  });

  it('waits the backoff between tries, honouring Retry-After up to max', async () => {
    const loop = new RetryLoop(OPTIONS);
    const attempt = script([503, 503, 200], 100);
    const done = loop.run(attempt, runOpts());
    await vi.advanceTimersByTimeAsync(99);
    expect(attempt.seen).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(attempt.seen).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(100);
    await expect(done).resolves.toMatchObject({ tries: 3, outcome: 200 });
  });

  it('stops when the next delay would end past the deadline', async () => {
    const loop = new RetryLoop(OPTIONS);
    const attempt = script([503, 200], 200);
    const result = await loop.run(attempt, runOpts({ deadline: performance.now() + 150 }));
    expect(result).toMatchObject({ tries: 1, stop: 'deadline', exhausted: true, skipped: 'deadline', result: 'try 0: 503' });
  });

  it('stops when the retry budget is spent', async () => {
    const loop = new RetryLoop({ ...OPTIONS, budget: { percent: 0, minPerSecond: 1, windowMs: 1_000 } }); // a reserve of one retry
    const first = loop.run(script([503, 200]), runOpts());
    await vi.runAllTimersAsync();
    await expect(first).resolves.toMatchObject({ tries: 2, outcome: 200 });
    const second = await loop.run(script([503, 200]), runOpts());
    expect(second).toMatchObject({ tries: 1, stop: 'budget', exhausted: true, skipped: 'budget' });
  });

  it('makes one try when the body could not be buffered, and says why', async () => {
    const loop = new RetryLoop(OPTIONS);
    const result = await loop.run(script([503]), runOpts({ replayable: false }));
    expect(result).toMatchObject({ tries: 1, stop: 'body-too-large', exhausted: false, skipped: 'body-too-large' });
  });

  it('an abort during the backoff ends the loop at once and leaves no timer', async () => {
    const loop = new RetryLoop(OPTIONS);
    const ac = new AbortController();
    const attempt = script([503, 200], 250);
    const done = loop.run(attempt, runOpts({ signal: ac.signal }));
    const settled = vi.fn();
    done.catch(settled);
    await vi.advanceTimersByTimeAsync(10);
    const reason = new Error('client left');
    ac.abort(reason);
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toHaveBeenCalledWith(reason);
    expect(vi.getTimerCount()).toBe(0);
    expect(attempt.seen).toHaveLength(1);
  });

  it('checks the signal before every try', async () => {
    const loop = new RetryLoop(OPTIONS);
    const ac = new AbortController();
    ac.abort('gone');
    const attempt = script([200]);
    await expect(loop.run(attempt, runOpts({ signal: ac.signal }))).rejects.toBe('gone');
    expect(attempt.seen).toHaveLength(0);
  });

  it('rethrows what the attempt throws, without retrying', async () => {
    const loop = new RetryLoop(OPTIONS);
    const open = new Error('circuit open');
    const attempt = vi.fn<Attempt<string>>(() => Promise.reject(open));
    await expect(loop.run(attempt, runOpts())).rejects.toBe(open);
    expect(attempt).toHaveBeenCalledTimes(1);
  });

  it('with attempts 0 makes exactly one try', async () => {
    const loop = new RetryLoop({ ...OPTIONS, attempts: 0 });
    await expect(loop.run(script([503]), runOpts())).resolves.toMatchObject({ tries: 1, stop: 'attempts' });
  });
});
