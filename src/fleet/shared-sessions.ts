/**
 * Shared sticky sessions (`sticky.cookie.shared: true`, SPEC §9): session → endpoint kept in the
 * fleet's Redis with the cookie's ttl, so a session reaches the same endpoint through any sidecar.
 *
 * - **A new session** gets the upstream's own balancer's choice (least-request, …): the store, not
 *   a hash, is what makes the sidecars agree, so the balancer is free to balance.
 * - **One round trip, atomic**: a script reads the session's endpoint; if that endpoint is among the
 *   ones this sidecar may use, it is kept (and its ttl extended); otherwise the script stores this
 *   sidecar's candidate. So when an endpoint leaves, the first sidecar to notice remaps the session,
 *   and every other one finds the new endpoint alive and keeps it: **one remap, fleet-wide**.
 * - **Behind a local cache**: a sidecar asks Redis about a session at most once per
 *   `ttl / 4` (between 50 ms and 10 s), which also keeps extending the session's ttl while it is used.
 * - **Redis unreachable** (or slower than `SESSION_TIMEOUT_MS`): consistent hashing over the
 *   eligible endpoints — every sidecar hashes alike, so a session still stays on one endpoint. The
 *   switch is logged once each way.
 */
import type { Logger } from 'pino';
import type { BalancerEndpoint, SessionQuery, SharedSessionStore } from '../routing/index.js';
import type { FleetKeys } from './keys.js';
import type { RedisLink, ScriptCall } from './redis.js';

/** A session lookup slower than this (ms) gives way to consistent hashing for that request. */
export const SESSION_TIMEOUT_MS = 200;

// KEYS[1] the session; ARGV[1] ttl (ms), ARGV[2] this sidecar's candidate, ARGV[3..] its eligible endpoints.
const RESOLVE = `
local cur = redis.call('GET', KEYS[1])
if cur then
  for i = 3, #ARGV do
    if ARGV[i] == cur then redis.call('PEXPIRE', KEYS[1], ARGV[1]) return cur end
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
return ARGV[2]
`;

export interface SharedSessionsOptions {
  /** Most sessions in the local cache. Default 100 000 (the oldest is dropped beyond). */
  readonly maxLocal?: number;
  /** Clock, ms (tests). Default `performance.now`. */
  readonly now?: () => number;
}

interface Cached { readonly endpoint: string; readonly until: number }

export class SharedSessions implements SharedSessionStore {
  private readonly resolveScript: ScriptCall;
  private readonly local = new Map<string, Cached>();
  private readonly maxLocal: number;
  private readonly now: () => number;
  private degraded = false;

  constructor(private readonly link: RedisLink, private readonly keys: FleetKeys, private readonly log: Logger, o: SharedSessionsOptions = {}) {
    this.resolveScript = link.script(RESOLVE);
    this.maxLocal = o.maxLocal ?? 100_000;
    this.now = o.now ?? (() => performance.now());
  }

  async resolve<E extends BalancerEndpoint>(q: SessionQuery<E>): Promise<E | undefined> {
    if (q.eligible.length === 0) return undefined;
    const slot = `${this.keys.sessionPrefix}${q.scope}:${q.key}`;
    const cached = this.local.get(slot);
    let endpoint = cached && cached.until > this.now() ? find(q.eligible, cached.endpoint) : undefined;
    if (!endpoint) {
      const stored = await this.fromStore(slot, q);
      if (stored === undefined) return this.fallback(q);
      endpoint = find(q.eligible, stored) ?? q.pick();
      if (!endpoint) return undefined;
      this.remember(slot, endpoint.address, q.ttlMs);
    }
    // A retry passes over an endpoint already tried without forgetting the session.
    return q.tried?.has(endpoint.address) ? q.pick(q.tried) ?? endpoint : endpoint;
  }

  /** The session's endpoint after the store had its say; undefined when the store could not be asked. */
  private async fromStore<E extends BalancerEndpoint>(slot: string, q: SessionQuery<E>): Promise<string | undefined> {
    if (!this.link.connected) { this.degrade(); return undefined; }
    const candidate = q.pick(q.tried) ?? q.eligible[0]!;
    let timer: NodeJS.Timeout | undefined;
    try {
      const stored = await Promise.race([
        this.resolveScript([slot], [Math.max(1, Math.round(q.ttlMs)), candidate.address, ...q.eligible.map((e) => e.address)]),
        new Promise<never>((_, reject) => {
          // The timer phase runs before the I/O phase: after a long stall of this process both are
          // due, and an answer already waiting on the socket must still win. setImmediate runs
          // after the I/O phase of the same turn.
          timer = setTimeout(() => setImmediate(() => reject(new Error(`no answer within ${SESSION_TIMEOUT_MS}ms`))), SESSION_TIMEOUT_MS);
        }),
      ]);
      this.recover();
      return String(stored);
    } catch (err) {
      this.degrade(err);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  private fallback<E extends BalancerEndpoint>(q: SessionQuery<E>): E | undefined {
    return q.fallback() ?? q.eligible[0];
  }

  private remember(slot: string, endpoint: string, ttlMs: number): void {
    this.local.delete(slot);
    if (this.local.size >= this.maxLocal) this.local.delete(this.local.keys().next().value!);
    this.local.set(slot, { endpoint, until: this.now() + Math.min(10_000, Math.max(50, ttlMs / 4)) });
  }

  private degrade(err?: unknown): void {
    if (this.degraded) return;
    this.degraded = true;
    this.log.warn({ err: err instanceof Error ? err.message : undefined }, 'shared sessions: the fleet store is unreachable; sessions follow consistent hashing until it is back');
  }

  private recover(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.log.info('shared sessions: the fleet store is back');
  }
}

function find<E extends BalancerEndpoint>(list: readonly E[], address: string): E | undefined {
  for (let i = 0; i < list.length; i++) if (list[i]!.address === address) return list[i];
  return undefined;
}
