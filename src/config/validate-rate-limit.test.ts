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
  ])('rejects %s with its position', (_name, rl, want) => {
    const r = parsePolicy(route(rl), 'p.yaml');
    expect(r.ok ? [] : r.errors.map(formatDiagnostic)).toEqual([want]);
  });

  it('scope: fleet needs a fleet: an error for run without one, fine with one, a warning when it cannot be told (validate)', () => {
    const text = route('{ requests: 1, per: 1s, scope: fleet }');
    const without = parsePolicy(text, 'p.yaml', { fleet: false });
    expect(without.ok ? [] : without.errors.map(formatDiagnostic)).toEqual(['p.yaml:6:47 routes[0].rateLimit.scope: fleet-wide rate limits need a fleet (pilotfish run --fleet URL)']);
    const withFleet = parsePolicy(text, 'p.yaml', { fleet: true });
    expect(withFleet.ok && withFleet.warnings).toEqual([]);
    expect(withFleet.ok && withFleet.policy.routes[0]!.rateLimit).toEqual({ requests: 1, per: 1000, burst: 1, scope: 'fleet', maxKeys: 10_000 });
    const unknown = parsePolicy(text, 'p.yaml');
    expect(unknown.ok).toBe(true);
    expect(unknown.warnings.map(formatDiagnostic)).toEqual(['p.yaml:6:47 routes[0].rateLimit.scope: warning: fleet-wide rate limits need a fleet: valid for `publish` and `run --fleet`, an error for `run` without one']);
  });

  it('warns about a key naming a hop-by-hop header', () => {
    const r = parsePolicy(route('{ requests: 1, per: 1s, key: Proxy-Authorization }'), 'p.yaml');
    expect(r.warnings.map(formatDiagnostic)).toEqual([
      'p.yaml:6:45 routes[0].rateLimit.key: warning: "Proxy-Authorization" is a hop-by-hop header, removed before routing: every request shares the bucket of requests without the key',
    ]);
  });
});
