/**
 * The fleet (SPEC §9): one policy for every sidecar that names it, over Redis. The sidecar's side
 * is `openFleet` — a policy source, the shared session store and the fleet-wide rate limits — and
 * the commands live in `./commands/`. Loaded only when a fleet is configured (this pulls in the Redis client).
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { fleetKeys } from './keys.js';
import { RedisLink } from './redis.js';
import { SharedSessions } from './shared-sessions.js';
import { FleetSource } from './source.js';
import { FleetStore } from './store.js';
import { FleetRateLimits } from './rate-limits.js';
import type { LimiterFactories } from '../ratelimit/index.js';

export { DEFAULT_FLEET_KEY, checkFleetKey, fleetKeys, HISTORY_LENGTH, type FleetKeys } from './keys.js';
export { RedisLink, RedisLinkError, type RedisLinkOptions, type RedisValue, type ScriptCall } from './redis.js';
export { FleetStore, type Generation, type GenerationMeta, type StoreHead } from './store.js';
export { FleetWatcher, type ApplyOutcome, type FleetWatcherOptions, type UnreadableGeneration } from './watcher.js';
export { FleetSource } from './source.js';
export { SharedSessions } from './shared-sessions.js';
export { FleetRateLimits } from './rate-limits.js';
export { parseFleetUrl, redactUrl, FleetUrlError } from './url.js';
export type { SidecarReport } from './report.js';

export interface FleetOptions {
  /** `redis://…` or `rediss://…`, with credentials if the server needs them. */
  readonly url: string;
  /** The fleet's name in Redis. Default `default`. */
  readonly key: string;
  readonly log: Logger;
  /** Where the fleet's metrics go (the sidecar's registry). */
  readonly registry?: Registry | undefined;
  /** Safety poll period, ms. Default 2 000. */
  readonly pollMs?: number | undefined;
  /** How long the sidecar's start waits for Redis, ms. Default 1 000. */
  readonly startTimeoutMs?: number | undefined;
}

export interface Fleet {
  readonly source: FleetSource;
  readonly sessions: SharedSessions;
  /** Makes the limiters of `scope: fleet` rate limits. */
  readonly limiters: NonNullable<LimiterFactories['fleet']>;
}

/** One Redis connection pair for the sidecar: the policy source, shared sessions and rate limits use it. */
export async function openFleet(o: FleetOptions): Promise<Fleet> {
  const link = await RedisLink.open(o.url, { name: 'sidecar', log: o.log });
  const store = new FleetStore(link, o.key);
  const rateLimits = new FleetRateLimits(store, o.log, o.registry);
  return {
    source: new FleetSource({ store, log: o.log, registry: o.registry, pollMs: o.pollMs, startTimeoutMs: o.startTimeoutMs, rateLimits }),
    sessions: new SharedSessions(link, fleetKeys(o.key), o.log),
    limiters: rateLimits.limiter,
  };
}
