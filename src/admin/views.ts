/** The JSON shapes of the read-only admin endpoints (documented in the README). */
import path from 'node:path';
import type { AdminTarget } from './target.js';

export function configDump(t: AdminTarget): unknown {
  const s = t.snapshot;
  return {
    generation: s.generation,
    source: path.resolve(t.options.policyFile),
    hash: s.hash,
    loadedAt: s.loadedAt.toISOString(),
    draining: t.isDraining,
    lastError: t.lastError
      ? { at: t.lastError.at.toISOString(), trigger: t.lastError.trigger, errors: t.lastError.errors.map(({ severity: _s, ...e }) => e) }
      : null,
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
