/**
 * Cross-checks of routes' `rateLimit`: `scope: fleet` keeps its buckets in the fleet's Redis, so it
 * needs a fleet — an error for `run` without one (no one should believe a fleet-wide limit holds),
 * a warning from `validate`, which cannot know where the policy will run (as `sticky.cookie.shared`);
 * a `key` naming a hop-by-hop header can never match, since those are stripped before routing (a warning).
 */
import type { PolicyContext } from './load.js';
import type { Policy } from './schema.js';
import type { Problem } from './validate-refs.js';

/** Stripped from every request before the route's layers see it (proxy/headers.ts's list, and `expect`). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'expect']);

export function checkRateLimits(policy: Policy, context: PolicyContext, problems: Problem[]): void {
  policy.routes.forEach((route, i) => {
    const rl = route.rateLimit;
    if (!rl) return;
    if (rl.scope === 'fleet' && context.fleet !== true) {
      const path = ['routes', i, 'rateLimit', 'scope'];
      problems.push(context.fleet === false
        ? { path, severity: 'error', message: 'fleet-wide rate limits need a fleet (pilotfish run --fleet URL)' }
        : { path, severity: 'warning', message: 'fleet-wide rate limits need a fleet: valid for `publish` and `run --fleet`, an error for `run` without one' });
    }
    if (rl.key !== undefined && HOP_BY_HOP.has(rl.key.toLowerCase())) {
      problems.push({ path: ['routes', i, 'rateLimit', 'key'], severity: 'warning', message: `"${rl.key}" is a hop-by-hop header, removed before routing: every request shares the bucket of requests without the key` });
    }
  });
}
