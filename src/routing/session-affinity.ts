/**
 * Session → endpoint affinity for sticky routes, in node-cache with a TTL. Consistent hashing alone
 * sends a session back to its old endpoint as soon as that endpoint returns — a second move, and a
 * second loss of whatever state the new endpoint built up. With the table, a session whose endpoint
 * left is remapped once (by the consistent-hash choice over the endpoints left) and then stays on its
 * new endpoint until it has been idle for `ttl`.
 *
 * Keys are client-controlled (cookie or header values), so they are prefixed before they reach
 * node-cache's plain-object store (`__proto__` would break it), and the table is bounded: beyond
 * `maxSessions` new sessions are simply not remembered and follow consistent hashing.
 */
import NodeCache from 'node-cache';
import type { BalancerEndpoint } from './balancers/load-balancer.js';

export interface SessionAffinityOptions {
  /** How long an idle session keeps its endpoint (ms); each use extends it. Use the cookie's ttl. */
  readonly ttl: number;
  /** Most sessions remembered at once. Default 100 000. */
  readonly maxSessions?: number;
  /** How often expired sessions are swept (ms). Default 60 000. */
  readonly sweepInterval?: number;
}

/** One table per (route, destination): a session key means nothing across upstreams. */
export class SessionAffinity {
  private readonly cache: NodeCache;
  private readonly ttlSeconds: number;

  constructor(options: SessionAffinityOptions) {
    this.ttlSeconds = Math.max(0.001, options.ttl / 1000);
    this.cache = new NodeCache({
      stdTTL: this.ttlSeconds,
      checkperiod: Math.max(1, (options.sweepInterval ?? 60_000) / 1000),
      useClones: false, // clones on every get/set cost ~300× here, and addresses are immutable strings
      maxKeys: options.maxSessions ?? 100_000,
    });
  }

  /**
   * The endpoint for session `key` among `eligible`: the remembered one while it is eligible,
   * otherwise `choose()` (the consistent-hash pick over `eligible`), which is then remembered.
   *
   * With `exclude` (a retry), a remembered endpoint already tried is passed over for `choose()`'s
   * answer without forgetting it: a failed try is not a death, the session returns to its endpoint
   * on its next request.
   */
  resolve<E extends BalancerEndpoint>(key: string, eligible: readonly E[], choose: () => E | undefined, exclude?: ReadonlySet<string>): E | undefined {
    const slot = `s:${key}`;
    const remembered = this.cache.get<string>(slot);
    if (remembered !== undefined) {
      const e = find(eligible, remembered);
      if (e !== undefined) {
        this.cache.ttl(slot, this.ttlSeconds);
        if (exclude === undefined || !exclude.has(remembered)) return e;
        return choose();
      }
    }
    const chosen = choose();
    if (chosen !== undefined) {
      try {
        this.cache.set(slot, chosen.address);
      } catch {
        // ECACHEFULL: the table is at `maxSessions`; this session follows plain consistent hashing.
      }
    }
    return chosen;
  }

  /** The remembered endpoint address of a session (explain, tests). */
  peek(key: string): string | undefined {
    return this.cache.get<string>(`s:${key}`);
  }

  get size(): number {
    return this.cache.getStats().keys;
  }

  /** Stops the sweep timer and drops every session (on reload of a changed route, or shutdown). */
  close(): void {
    this.cache.flushAll();
    this.cache.close();
  }
}

function find<E extends BalancerEndpoint>(list: readonly E[], address: string): E | undefined {
  for (let i = 0; i < list.length; i++) if (list[i]!.address === address) return list[i];
  return undefined;
}
