import { describe, expect, it } from 'vitest';
import { formatDiagnostic, parsePolicy } from './load.js';

const route = (rateLimit: string): string => `version: 1
upstreams: { u: { endpoints: [{ address: "a:80" }] } }
routes:
  - name: api
    to: [{ upstream: u }]
    rateLimit: ${rateLimit}
`;

describe('rateLimit in the policy', () => {
  it('fills defaults: burst = requests, one local bucket for the route, 10 000 keys at most', () => {
    const r = parsePolicy(route('{ requests: 100, per: 1s }'), 'p.yaml');
    if (!r.ok) throw new Error(r.errors.map(formatDiagnostic).join('\n'));
    expect(r.policy.routes[0]!.rateLimit).toEqual({ requests: 100, per: 1000, burst: 100, scope: 'local', maxKeys: 10_000 });
    expect(r.warnings).toEqual([]);
  });

  it.each([
    ['no requests', '{ per: 1s }', 'p.yaml:6:16 routes[0].rateLimit.requests: missing required key (expected number)'],
    ['zero requests', '{ requests: 0, per: 1s }', 'p.yaml:6:28 routes[0].rateLimit.requests: Too small: expected number to be >=1'],
    ['a zero window', '{ requests: 1, per: 0 }', 'p.yaml:6:36 routes[0].rateLimit.per: per must be longer than 0'],
    ['a bad duration', '{ requests: 1, per: soon }', 'p.yaml:6:36 routes[0].rateLimit.per: invalid duration "soon" (use e.g. 250ms, 1s, 2m, or milliseconds)'],
    ['an unknown key', '{ requests: 1, per: 1s, window: 5 }', 'p.yaml:6:40 routes[0].rateLimit.window: unknown key "window"'],
    ['a fleet scope (not yet)', '{ requests: 1, per: 1s, scope: fleet }', "p.yaml:6:47 routes[0].rateLimit.scope: scope: fleet (one bucket shared through the fleet's Redis) is not available yet; use scope: local (a bucket per sidecar)"],
  ])('rejects %s with its position', (_name, rl, want) => {
    const r = parsePolicy(route(rl), 'p.yaml');
    expect(r.ok ? [] : r.errors.map(formatDiagnostic)).toEqual([want]);
  });

  it('warns about a key naming a hop-by-hop header', () => {
    const r = parsePolicy(route('{ requests: 1, per: 1s, key: Proxy-Authorization }'), 'p.yaml');
    expect(r.warnings.map(formatDiagnostic)).toEqual([
      'p.yaml:6:45 routes[0].rateLimit.key: warning: "Proxy-Authorization" is a hop-by-hop header, removed before routing: every request shares the bucket of requests without the key',
    ]);
  });
});
