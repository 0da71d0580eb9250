/** The data plane's small policy rules: what stays local under a fleet, and the locality warning. */
import type { Logger } from 'pino';
import type { Policy } from '../config/index.js';
import type { Locality } from '../routing/index.js';

/** A locality-aware upstream on a sidecar that does not know its own place balances over one tier. */
export function warnUnplaced(policy: Policy, override: Locality | undefined, log: Logger): void {
  if (override ?? policy.locality) return;
  const names = Object.entries(policy.upstreams).filter(([, u]) => u.locality?.enabled).map(([n]) => n);
  if (names.length) log.warn({ upstreams: names }, 'locality-aware upstreams, but this sidecar\'s locality is unknown (set `locality` in the policy or PILOTFISH_LOCALITY): their endpoints form one tier');
}

/**
 * What belongs to this sidecar, not to the fleet, comes from its file only: the listeners (ports,
 * addresses, the admin token), its own place (`locality`) and its identity, whatever a published policy says.
 */
export function withLocalSettings(fleet: Policy, file: Policy): Policy {
  const { locality: _ignored, identity: _own, ...shared } = fleet;
  return {
    ...shared, listeners: file.listeners,
    ...(file.locality === undefined ? {} : { locality: file.locality }),
    ...(file.identity === undefined ? {} : { identity: file.identity }),
  };
}
