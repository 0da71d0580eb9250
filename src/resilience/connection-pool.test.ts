import { describe, expect, it } from 'vitest';
import type { UpstreamPolicy } from '../config/index.js';
import { ConnectionPool, type ConnectionPoolOptions, type Release } from './connection-pool.js';
import { PoolOverflowError } from './errors.js';

const fromPolicy: ConnectionPoolOptions = {} as UpstreamPolicy['connectionPool'];
void fromPolicy;

/** Settles pending promise callbacks. */
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

function track(p: Promise<Release>): { state: () => 'pending' | 'admitted' | 'rejected'; release: () => void; error: () => unknown } {
  let state: 'pending' | 'admitted' | 'rejected' = 'pending';
  let release: Release | undefined;
  let error: unknown;
  p.then((r) => { state = 'admitted'; release = r; }, (e: unknown) => { state = 'rejected'; error = e; });
  return { state: () => state, release: () => release!(), error: () => error };
}

describe('ConnectionPool', () => {
  it('admits up to maxConnections at once, queues up to maxPendingRequests, refuses the rest with UO', async () => {
    const pool = new ConnectionPool({ maxConnections: 2, maxPendingRequests: 1 }, { name: 'reviews' });
    const overflow: number[] = [];
    pool.on('overflow', () => overflow.push(pool.pending));
    const reqs = Array.from({ length: 4 }, () => track(pool.acquire()));
    await flush();
    expect(reqs.map((r) => r.state())).toEqual(['admitted', 'admitted', 'pending', 'rejected']);
    expect(reqs[3]!.error()).toBeInstanceOf(PoolOverflowError);
    expect(reqs[3]!.error()).toMatchObject({ flag: 'UO', status: 503, code: 'upstream_overflow' });
    expect([pool.active, pool.pending]).toEqual([2, 1]);
    expect(overflow).toEqual([1]);
  });

  it('hands a released slot to the oldest waiter (FIFO) without dropping active', async () => {
    const pool = new ConnectionPool({ maxConnections: 1, maxPendingRequests: 10 });
    const first = track(pool.acquire());
    const waiters = Array.from({ length: 3 }, () => track(pool.acquire()));
    await flush();
    first.release();
    expect(pool.active).toBe(1);
    await flush();
    expect(waiters.map((w) => w.state())).toEqual(['admitted', 'pending', 'pending']);
    waiters[0]!.release();
    await flush();
    expect(waiters.map((w) => w.state())).toEqual(['admitted', 'admitted', 'pending']);
    waiters[1]!.release();
    await flush();
    waiters[2]!.release();
    expect([pool.active, pool.pending]).toEqual([0, 0]);
  });

  it('releases once however often release is called', async () => {
    const pool = new ConnectionPool({ maxConnections: 2, maxPendingRequests: 0 });
    const a = await pool.acquire();
    await pool.acquire();
    a(); a(); a();
    expect(pool.active).toBe(1);
  });

  it('drops a waiter whose client left, rejecting with the signal\'s reason', async () => {
    const pool = new ConnectionPool({ maxConnections: 1, maxPendingRequests: 2 });
    const holder = track(pool.acquire());
    const ac = new AbortController();
    const leaving = track(pool.acquire(ac.signal));
    const staying = track(pool.acquire());
    await flush();
    const reason = new Error('client disconnected');
    ac.abort(reason);
    await flush();
    expect(leaving.state()).toBe('rejected');
    expect(leaving.error()).toBe(reason);
    expect(pool.pending).toBe(1);
    holder.release();
    await flush();
    expect(staying.state()).toBe('admitted');
    staying.release();
    expect(pool.active).toBe(0);
  });

  it('refuses an already-aborted signal without taking a slot', async () => {
    const pool = new ConnectionPool({ maxConnections: 1, maxPendingRequests: 1 });
    await expect(pool.acquire(AbortSignal.abort('gone'))).rejects.toBe('gone');
    expect([pool.active, pool.pending]).toEqual([0, 0]);
  });

  it('removes the abort listener once admitted', async () => {
    const pool = new ConnectionPool({ maxConnections: 1, maxPendingRequests: 1 });
    const holder = await pool.acquire();
    const ac = new AbortController();
    const waiting = track(pool.acquire(ac.signal));
    holder();
    await flush();
    expect(waiting.state()).toBe('admitted');
    ac.abort(); // a late abort must not touch the queue or the slot count
    expect([pool.active, pool.pending]).toEqual([1, 0]);
  });

  it('with maxPendingRequests 0 refuses as soon as all slots are taken', async () => {
    const pool = new ConnectionPool({ maxConnections: 1, maxPendingRequests: 0 });
    await pool.acquire();
    await expect(pool.acquire()).rejects.toBeInstanceOf(PoolOverflowError);
  });
});
