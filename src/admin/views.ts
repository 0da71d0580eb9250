/** The JSON shapes of the read-only admin endpoints (documented in the README). */
import path from 'node:path';
import type { AdminTarget } from './target.js';

export function configDump(t: AdminTarget): unknown {
  const s = t.snapshot;
  const e = t.lastError;
  const fleet = t.fleetState();
  return {
    generation: s.generation,
    source: t.origin,
    file: path.resolve(t.options.policyFile),
    ...(fleet ? { fleet } : {}),
    hash: s.hash,
    loadedAt: s.loadedAt.toISOString(),
    draining: t.isDraining,
    lastError: e
      ? {
        at: e.at.toISOString(), trigger: e.trigger, source: e.origin, ...(e.generation === undefined ? {} : { generation: e.generation }),
        errors: e.errors.map(({ severity: _s, ...d }) => d),
      }
      : null,
    // The workload certificate serving now, and a rotation refused since (SPEC §12).
    identity: t.identityState() ?? null,
    // Where this sidecar is for locality-aware balancing, and where that came from.
    locality: t.options.locality
      ? { ...t.options.locality, source: 'env' }
      : s.policy.locality ? { ...s.policy.locality, source: 'policy' } : null,
    policy: s.policy,
  };
}

export function clusters(t: AdminTarget): unknown {
  const upstreams = [];
  for (const u of t.upstreams.all()) {
    if (u.name === 'passthrough') continue;
    upstreams.push({ name: u.name, ...u.describe() });
  }
  return { generation: t.snapshot.generation, upstreams };
}
