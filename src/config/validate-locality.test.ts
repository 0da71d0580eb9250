import { describe, expect, it } from 'vitest';
import { formatDiagnostic, parsePolicy } from './load.js';

const load = (text: string) => parsePolicy(text, 'p.yaml');

describe('locality in the policy', () => {
  it('fills defaults: writing the block enables it, with no failover order', () => {
    const r = load(`version: 1
locality: { region: r1, zone: a }
upstreams:
  u: { endpoints: [{ address: "a:80", labels: { region: r1, zone: a } }], locality: {} }
`);
    if (!r.ok) throw new Error(r.errors.map(formatDiagnostic).join('\n'));
    expect(r.policy.locality).toEqual({ region: 'r1', zone: 'a' });
    expect(r.policy.upstreams.u!.locality).toEqual({ enabled: true, failover: [] });
    expect(r.warnings).toEqual([]);
  });

  it.each([
    ['an unknown key', 'locality: { region: r1, rack: 3 }', 'p.yaml:2:25 locality.rack: unknown key "rack"'],
    ['a missing region', 'locality: { zone: a }', 'p.yaml:2:11 locality.region: missing required key (expected string)'],
    ['an empty zone', 'locality: { region: r1, zone: "" }', 'p.yaml:2:31 locality.zone: Too small: expected string to have >=1 characters'],
  ])('rejects %s with its position', (_name, line, want) => {
    const r = load(`version: 1\n${line}\n`);
    expect(r.ok ? [] : r.errors.map(formatDiagnostic)).toEqual([want]);
  });

  it('warns when locality is enabled but no endpoint carries a region or zone label', () => {
    const r = load(`version: 1
upstreams:
  u:
    endpoints: [{ address: "a:80", labels: { version: v1 } }]
    locality: { enabled: true }
  off:
    endpoints: [{ address: "b:80" }]
    locality: { enabled: false }
`);
    expect(r.warnings.map(formatDiagnostic)).toEqual([
      'p.yaml:5:15 upstreams.u.locality: warning: locality is enabled but no endpoint carries a `region` or `zone` label: every endpoint is in one tier',
    ]);
  });

  it('warns about a failover region no endpoint is in', () => {
    const r = load(`version: 1
upstreams:
  u:
    endpoints: [{ address: "a:80", labels: { region: r1 } }, { address: "b:80", labels: { region: r2 } }]
    locality: { failover: [r2, r3] }
`);
    expect(r.warnings.map(formatDiagnostic)).toEqual(['p.yaml:5:32 upstreams.u.locality.failover[1]: warning: no endpoint is in failover region "r3"']);
  });
});
