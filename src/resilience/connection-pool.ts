/**
 * Admission control per upstream (SPEC §5, Envoy's `max_connections` / `max_pending_requests`): at
 * most `maxConnections` requests run against the upstream at once; the next `maxPendingRequests`
 * wait in a FIFO queue; beyond that a request is refused at once with `PoolOverflowError` (503 `UO`)
 * — fast back-pressure instead of an unbounded queue whose wait would blow every deadline.
 *
 * A waiter whose signal fires (client left, route deadline passed) leaves the queue and its acquire
 * rejects with the signal's reason; pass a signal combining both so nobody waits past its deadline.
 * A released slot goes straight to the head of the queue, so `active` never dips between the two.
 */
import { EventEmitter } from 'node:events';
import { PoolOverflowError } from './errors.js';

export interface ConnectionPoolOptions {
  /** Concurrent requests admitted, ≥ 1. Policy default 1 024. */
  maxConnections: number;
  /** Requests allowed to wait for a slot; 0 refuses at once when full. Policy default 1 024. */
  maxPendingRequests: number;
}

/** Gives the slot back. Idempotent: calling it twice releases once. */
export type Release = () => void;

export interface ConnectionPoolEvents {
  /** A request was refused with `PoolOverflowError`. */
  overflow: [];
}

interface Waiter {
  resolve(release: Release): void;
  reject(reason: unknown): void;
  cleanup(): void;
}

export class ConnectionPool extends EventEmitter<ConnectionPoolEvents> {
  readonly name: string;
  private readonly options: ConnectionPoolOptions;
  // A Set keeps insertion (FIFO) order and removes an aborted waiter in O(1).
  private readonly queue = new Set<Waiter>();
  private running = 0;

  constructor(options: ConnectionPoolOptions, deps: { name?: string } = {}) {
    super();
    this.options = options;
    this.name = deps.name ?? 'upstream';
  }

  /** Requests holding a slot (for /clusters "active requests"). */
  get active(): number {
    return this.running;
  }

  /** Requests waiting for a slot (the `pilotfish_pending_requests` gauge). */
  get pending(): number {
    return this.queue.size;
  }

  /**
   * The fast path: a release function when a slot is free right now and nobody queues ahead (FIFO),
   * else undefined — then call `acquire(signal)` to queue. Lets callers skip making a signal (and a
   * promise) on the common, uncontended path.
   */
  tryAcquire(): Release | undefined {
    if (this.queue.size > 0 || this.running >= Math.max(1, this.options.maxConnections)) return undefined;
    this.running++;
    return this.releaser();
  }

  /**
   * Resolves with a release function once a slot is free. Rejects with `PoolOverflowError` when the
   * queue is full too, or with `signal.reason` when the signal fires first (or had already fired).
   */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.running < Math.max(1, this.options.maxConnections)) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    if (this.queue.size >= this.options.maxPendingRequests) {
      this.emit('overflow');
      return Promise.reject(new PoolOverflowError(this.name));
    }
    return new Promise<Release>((resolve, reject) => {
      const onAbort = (): void => {
        this.queue.delete(waiter);
        reject(signal!.reason);
      };
      const waiter: Waiter = { resolve, reject, cleanup: () => signal?.removeEventListener('abort', onAbort) };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.add(waiter);
    });
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.handOver();
    };
  }

  private handOver(): void {
    const next = this.queue.values().next();
    if (next.done) {
      this.running--;
      return;
    }
    const waiter = next.value;
    this.queue.delete(waiter);
    waiter.cleanup();
    waiter.resolve(this.releaser());
  }
}
