/**
 * `validate` warnings for locality-aware upstreams (SPEC §5 "Locality"): tiers come from the
 * endpoints' `region`/`zone` labels, so an upstream whose endpoints carry none balances over one
 * tier — almost certainly a labelling mistake — and a failover region no endpoint is in never helps.
 */
import type { Policy } from './schema.js';
import type { Problem } from './validate-refs.js';

export function checkLocality(policy: Policy, problems: Problem[]): void {
  for (const [name, up] of Object.entries(policy.upstreams)) {
    if (!up.locality?.enabled) continue;
    const regions = new Set(up.endpoints.map((e) => e.labels.region).filter((r) => r !== undefined));
    const labelled = up.endpoints.some((e) => e.labels.region !== undefined || e.labels.zone !== undefined);
    if (!labelled) {
      problems.push({
        path: ['upstreams', name, 'locality'], severity: 'warning',
        message: 'locality is enabled but no endpoint carries a `region` or `zone` label: every endpoint is in one tier',
      });
      continue;
    }
    up.locality.failover.forEach((region, i) => {
      if (!regions.has(region)) {
        problems.push({ path: ['upstreams', name, 'locality', 'failover', i], severity: 'warning', message: `no endpoint is in failover region "${region}"` });
      }
    });
  }
}
