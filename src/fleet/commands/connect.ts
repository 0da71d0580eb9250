/**
 * What `publish`, `rollback` and `fleet status` share: the `--fleet`/`--fleet-key` options (and
 * their environment variables), and a connection that fails fast — a command reports an
 * unreachable Redis and exits instead of waiting for it.
 */
import os from 'node:os';
import { checkFleetKey, DEFAULT_FLEET_KEY } from '../keys.js';
import { RedisLink } from '../redis.js';
import { FleetStore } from '../store.js';
import { FleetUrlError, parseFleetUrl } from '../url.js';
import type { CommandIo } from '../../kube/command-io.js';

export const FLEET_OPTIONS = {
  fleet: { type: 'string' },
  'fleet-key': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Exit codes of the fleet commands. */
export const EXIT = { ok: 0, failed: 1, usage: 2, conflict: 3 } as const;

/** How long a command waits for Redis to answer at all, ms. */
const CONNECT_TIMEOUT_MS = 3000;

export interface FleetTarget {
  readonly url: string;
  readonly key: string;
}

/** `--fleet` (else `$PILOTFISH_FLEET`) and `--fleet-key` (else `$PILOTFISH_FLEET_KEY`, else `default`); a string is a usage error. */
export function fleetTarget(values: { fleet?: string | undefined; 'fleet-key'?: string | undefined }, env: NodeJS.ProcessEnv): FleetTarget | string {
  const url = values.fleet ?? env.PILOTFISH_FLEET;
  if (!url) return 'no fleet: give --fleet redis://… (or set PILOTFISH_FLEET)';
  try {
    parseFleetUrl(url);
  } catch (err) {
    return (err as FleetUrlError).message;
  }
  const key = values['fleet-key'] ?? (env.PILOTFISH_FLEET_KEY || DEFAULT_FLEET_KEY);
  return checkFleetKey(key) ?? { url, key };
}

/** Connects to the fleet's store, or writes why it cannot and returns undefined. */
export async function openStore(t: FleetTarget, command: string, io: CommandIo): Promise<FleetStore | undefined> {
  const link = await RedisLink.open(t.url, { name: `cli-${command}`, reconnect: false, connectTimeoutMs: CONNECT_TIMEOUT_MS, commandTimeoutMs: 5000 });
  if (await link.whenReady(CONNECT_TIMEOUT_MS)) return new FleetStore(link, t.key);
  io.stderr(`pilotfish ${command}: cannot reach Redis at ${link.target}: ${link.lastError ?? `no answer within ${CONNECT_TIMEOUT_MS}ms`}\n`);
  await link.close();
  return undefined;
}

/** Who publishes: `$PILOTFISH_PUBLISHER`, else user@host. */
export function publisher(env: NodeJS.ProcessEnv): string {
  if (env.PILOTFISH_PUBLISHER) return env.PILOTFISH_PUBLISHER;
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    user = `uid-${process.getuid?.() ?? 'unknown'}`; // no passwd entry (a container's arbitrary uid)
  }
  return `${user}@${os.hostname()}`;
}

/** The first 12 hex digits: enough to tell policies apart at a glance. */
export const shortHash = (hash: string): string => hash.slice(0, 12);
