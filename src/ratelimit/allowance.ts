/**
 * A sidecar's local allowance of one fleet-wide bucket: tokens leased from the shared bucket and not
 * yet spent, and what it knows of the lease in flight. One per bucket: the route's, or one per key in
 * a table bounded like `KeyedBuckets` (least recently used forgotten first, long keys hashed).
 */
import { stored } from './keyed-buckets.js';

export class Allowance {
  /** Leased tokens not yet spent. */
  tokens = 0;
  /** Requests a local bucket admitted while a lease was late: the next tokens leased pay for them. */
  debt = 0;
  /** When tokens last arrived (they are dropped `LEASE_TTL_MS` later), ms. */
  grantedAt = Number.NEGATIVE_INFINITY;
  /** Not before this (ms): the shared bucket cannot grant a batch earlier (it said so). */
  nextAt = 0;
  /** When the last lease was asked for, ms. */
  askedAt = Number.NEGATIVE_INFINITY;
  /** A lease is in flight (at most one per bucket). */
  asking = false;
  /** Tokens the lease in flight asked for. */
  asked = 0;
  /** Requests waiting for a lease, oldest first: one waiting group, with one deadline. */
  readonly waiters: Array<(waitMs: number) => void> = [];
  /** Counts waiting groups: a deadline belongs to the group it was set for. */
  group = 0;
  /** The deadline timer of the waiting group, if one waits. */
  deadline: NodeJS.Timeout | undefined;

  /** `key` as the store names it (undefined: the route's one bucket). */
  constructor(readonly key: string | undefined) {}

  /** Whether dropping it would lose something (tokens held, a lease or requests pending). */
  get live(): boolean {
    return this.tokens > 0 || this.debt > 0 || this.asking || this.waiters.length > 0;
  }
}

/** Allowances by key, at most `maxKeys` of them. */
export class AllowanceTable {
  private readonly map = new Map<string, Allowance>();
  /** Live allowances dropped to make room (their tokens are lost: the limit errs on the strict side). */
  evictedLive = 0;

  constructor(readonly maxKeys: number) {}

  /** The allowance of `key`, made (and the least recently used one dropped, if need be) when absent. */
  get(raw: string): Allowance {
    const key = stored(raw);
    const map = this.map;
    let a = map.get(key);
    if (a !== undefined) {
      map.delete(key); // re-inserted below: a Map iterates in insertion order, oldest first
    } else {
      if (map.size >= this.maxKeys) {
        const [oldest, dropped] = map.entries().next().value!;
        if (dropped.live) this.evictedLive++;
        map.delete(oldest);
      }
      a = new Allowance(key);
    }
    map.set(key, a);
    return a;
  }

  /** The allowance of `key` if there is one, without touching the order (explain). */
  peek(raw: string): Allowance | undefined {
    return this.map.get(stored(raw));
  }

  get size(): number {
    return this.map.size;
  }
}
