/**
 * Cross-checks of routes' `rateLimit`: `scope: fleet` needs the fleet's shared buckets, which are
 * not built yet (an error, so no one believes a fleet-wide limit holds); a `key` naming a
 * hop-by-hop header can never match, since those are stripped before routing (a warning).
 */
import type { Policy } from './schema.js';
import type { Problem } from './validate-refs.js';

/** Stripped from every request before the route's layers see it (proxy/headers.ts's list, and `expect`). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'expect']);

export function checkRateLimits(policy: Policy, problems: Problem[]): void {
  policy.routes.forEach((route, i) => {
    const rl = route.rateLimit;
    if (!rl) return;
    if (rl.scope === 'fleet') {
      problems.push({
        path: ['routes', i, 'rateLimit', 'scope'], severity: 'error',
        message: 'scope: fleet (one bucket shared through the fleet\'s Redis) is not available yet; use scope: local (a bucket per sidecar)',
      });
    }
    if (rl.key !== undefined && HOP_BY_HOP.has(rl.key.toLowerCase())) {
      problems.push({ path: ['routes', i, 'rateLimit', 'key'], severity: 'warning', message: `"${rl.key}" is a hop-by-hop header, removed before routing: every request shares the bucket of requests without the key` });
    }
  });
}
