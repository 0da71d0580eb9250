/**
 * Where fleet K lives in Redis. Every key carries the hash tag `{K}`, so a fleet's keys share one
 * slot and its Lua scripts stay single-slot on a clustered or proxied deployment too.
 *
 * | key | type | holds |
 * |---|---|---|
 * | `pilotfish:{K}:generation` | string | the current generation number |
 * | `pilotfish:{K}:epoch` | string | the store's epoch: random, written by the first publish into an empty store |
 * | `pilotfish:{K}:current` | string | the current generation's document (JSON, policy text and its `data` included) |
 * | `pilotfish:{K}:history` | list | the last 50 documents, newest first |
 * | `pilotfish:{K}:events` | channel | after each publish, the new document (as in `current`); over `PUSHED_DOCUMENT_BYTES`, `<epoch>:<generation>` |
 * | `pilotfish:{K}:sidecars` | sorted set | sidecar id → last report, scored by the server's clock (ms) |
 * | `pilotfish:{K}:report:<id>` | string | that sidecar's last report (JSON), expiring with it |
 * | `pilotfish:{K}:session:<scope>:<key>` | string | shared sticky sessions: session → endpoint, expiring with the cookie's ttl |
 * | `pilotfish:{K}:ratelimit:<route>:<rate>[:k:<key>]` | string | a fleet-wide rate limit's bucket (its `tat`, server ms), expiring when full |
 */

/** Fleet keys: letters, digits, `.`, `_`, `-`; at most 64. */
const FLEET_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const DEFAULT_FLEET_KEY = 'default';

/** How many generations the history keeps (SPEC §9). */
export const HISTORY_LENGTH = 50;

export function checkFleetKey(key: string): string | undefined {
  return FLEET_KEY.test(key) ? undefined : `invalid fleet key ${JSON.stringify(key)}: letters, digits, ".", "_" and "-", at most 64`;
}

export interface FleetKeys {
  readonly fleet: string;
  readonly generation: string;
  readonly epoch: string;
  readonly current: string;
  readonly history: string;
  readonly events: string;
  readonly sidecars: string;
  /** Prefix of the per-sidecar report keys. */
  readonly reportPrefix: string;
  report(id: string): string;
  /** Prefix of the shared-session keys. */
  readonly sessionPrefix: string;
  /** Prefix of the fleet-wide rate-limit buckets. */
  readonly rateLimitPrefix: string;
}

export function fleetKeys(fleet: string): FleetKeys {
  const p = `pilotfish:{${fleet}}:`;
  return {
    fleet,
    generation: `${p}generation`, epoch: `${p}epoch`, current: `${p}current`, history: `${p}history`, events: `${p}events`,
    sidecars: `${p}sidecars`, reportPrefix: `${p}report:`, report: (id) => `${p}report:${id}`, sessionPrefix: `${p}session:`,
    rateLimitPrefix: `${p}ratelimit:`,
  };
}
