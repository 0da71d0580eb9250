import { describe, expect, it } from 'vitest';
import { formatDiagnostic, parsePolicy } from './load.js';

const ok = (text: string) => {
  const r = parsePolicy(text, 'p.yaml');
  if (!r.ok) throw new Error(r.errors.map(formatDiagnostic).join('\n'));
  return r;
};
const errors = (text: string): string[] => { const r = parsePolicy(text, 'p.yaml'); return r.ok ? [] : r.errors.map(formatDiagnostic); };
const warnings = (text: string): string[] => parsePolicy(text, 'p.yaml').warnings.map(formatDiagnostic);

describe('identity and the inbound TLS mode', () => {
  it('without identity: inbound plaintext (mode disable), no identity', () => {
    const r = ok('version: 1\n');
    expect(r.policy.identity).toBeUndefined();
    expect(r.policy.listeners.inbound.tls).toEqual({ mode: 'disable' });
  });

  it('an identity block takes cert-manager\'s layout and cluster.local by default, and makes inbound permissive', () => {
    const r = ok('version: 1\nidentity: {}\n');
    expect(r.policy.identity).toEqual({ certFile: '/etc/pilotfish/certs/tls.crt', keyFile: '/etc/pilotfish/certs/tls.key', caFile: '/etc/pilotfish/certs/ca.crt', trustDomain: 'cluster.local' });
    expect(r.policy.listeners.inbound.tls).toEqual({ mode: 'permissive' });
  });

  it('an explicit mode wins over the default', () => {
    expect(ok('version: 1\nidentity: {}\nlisteners: { inbound: { tls: { mode: strict } } }\n').policy.listeners.inbound.tls.mode).toBe('strict');
    expect(ok('version: 1\nidentity: {}\nlisteners: { inbound: { tls: { mode: disable } } }\n').policy.listeners.inbound.tls.mode).toBe('disable');
  });

  it.each([
    ['strict without identity', 'listeners: { inbound: { tls: { mode: strict } } }', 'p.yaml:2:38 listeners.inbound.tls.mode: mode strict needs the sidecar\'s identity (add an `identity` block: its certificate, key and CA)'],
    ['an unknown mode', 'listeners: { inbound: { tls: { mode: mtls } } }', 'p.yaml:2:38 listeners.inbound.tls.mode: Invalid option: expected one of "strict"|"permissive"|"disable"'],
    ['an unknown identity key', 'identity: { cert: /x }', 'p.yaml:2:13 identity.cert: unknown key "cert"'],
    ['a trust domain with upper case', 'identity: { trustDomain: Cluster.Local }', 'p.yaml:2:26 identity.trustDomain: trust domain "Cluster.Local" has a character other than lower-case letters, digits, ".", "-", "_" (a port, user info or upper case are not allowed)'],
  ])('refuses %s', (_name, line, want) => {
    expect(errors(`version: 1\n${line}\n`)).toEqual([want]);
  });
});

describe('upstream tls', () => {
  const up = (tls: string, identity = 'identity: {}\n') => `version: 1\n${identity}upstreams:\n  b:\n    endpoints: [{ address: "10.0.0.1:15006" }]\n    tls: ${tls}\n`;

  it('takes mutual with sni and subjectAltNames, simple with a caFile', () => {
    expect(ok(up('{ mode: mutual, sni: b.shop, subjectAltNames: [spiffe://cluster.local/ns/shop/sa/b] }')).policy.upstreams.b!.tls)
      .toEqual({ mode: 'mutual', sni: 'b.shop', subjectAltNames: ['spiffe://cluster.local/ns/shop/sa/b'] });
    expect(ok(up('{ mode: simple, caFile: /etc/ssl/private-ca.crt }', '')).policy.upstreams.b!.tls).toEqual({ mode: 'simple', caFile: '/etc/ssl/private-ca.crt' });
  });

  it.each([
    ['mutual without identity', up('{ mode: mutual }', ''), 'p.yaml:5:18 upstreams.b.tls.mode: mode mutual presents the workload certificate: add an `identity` block'],
    ['mutual with a caFile', up('{ mode: mutual, caFile: /x }'), 'p.yaml:6:34 upstreams.b.tls.caFile: mutual trusts the mesh CA (identity.caFile); caFile is for mode simple'],
    ['a malformed SPIFFE SAN', up('{ mode: mutual, subjectAltNames: ["spiffe://cluster.local/ns/a/"] }'), 'p.yaml:6:44 upstreams.b.tls.subjectAltNames[0]: "spiffe://cluster.local/ns/a/": a SPIFFE ID path has no trailing slash'],
    ['no mode', up('{ sni: x }'), 'p.yaml:6:10 upstreams.b.tls.mode: Invalid option: expected one of "mutual"|"simple"|"disable"'],
  ])('refuses %s', (_name, text, want) => {
    expect(errors(text)).toEqual([want]);
  });

  it('warns of a SAN that can never match and of settings a disabled mode ignores', () => {
    expect(warnings(up('{ mode: mutual, subjectAltNames: [spiffe://example.org/ns/a/sa/b] }'))).toEqual([
      'p.yaml:6:44 upstreams.b.tls.subjectAltNames[0]: warning: spiffe://example.org/ns/a/sa/b is not in the trust domain cluster.local: a mutual server must be, so this SAN can never be the one that matches',
    ]);
    expect(warnings(up('{ mode: disable, sni: x }'))).toEqual(['p.yaml:6:32 upstreams.b.tls.sni: warning: sni is ignored: mode is disable (plaintext)']);
  });
});

describe('authorization', () => {
  const authz = (rules: string, identity = 'identity: {}\n') => `version: 1\n${identity}authorization:\n${rules}`;

  it('takes Istio-style rules, methods upper-cased', () => {
    const r = ok(authz(`  - { name: allow-frontend, action: allow, from: { principals: [cluster.local/ns/shop/sa/frontend] }, to: { methods: [get], paths: ["/api/*"], ports: [9080] } }
  - { name: no-admin, action: deny, from: { ipBlocks: [10.0.0.0/8] }, to: { paths: ["/admin*"] } }
`));
    expect(r.policy.authorization[0]).toEqual({ name: 'allow-frontend', action: 'allow', from: { principals: ['cluster.local/ns/shop/sa/frontend'] }, to: { methods: ['GET'], paths: ['/api/*'], ports: [9080] } });
    expect(r.warnings).toEqual([]);
  });

  it.each([
    ['an unknown field', '  - { name: a, action: allow, from: { users: [x] } }', 'p.yaml:4:39 authorization[0].from.users: unknown key "users"'],
    ['an unknown action', '  - { name: a, action: audit }', 'p.yaml:4:24 authorization[0].action: Invalid option: expected one of "allow"|"deny"'],
    ['a wildcard in the middle of a principal', '  - { name: a, action: allow, from: { principals: ["spiffe://cluster.local/*/sa/b"] } }', 'p.yaml:4:52 authorization[0].from.principals[0]: "spiffe://cluster.local/*/sa/b": "*" only at either end (exact, prefix*, *suffix or *)'],
    ['a malformed SPIFFE ID', '  - { name: a, action: allow, from: { principals: ["spiffe://cluster.local/ns/a/"] } }', 'p.yaml:4:52 authorization[0].from.principals[0]: "spiffe://cluster.local/ns/a/" is not a SPIFFE ID: a SPIFFE ID path has no trailing slash'],
    ['a malformed trust domain in a prefix', '  - { name: a, action: allow, from: { principals: ["spiffe://Bad/*"] } }', 'p.yaml:4:52 authorization[0].from.principals[0]: "spiffe://Bad/*" is not a SPIFFE ID prefix: trust domain "Bad" has a character other than lower-case letters, digits, ".", "-", "_" (a port, user info or upper case are not allowed)'],
    ['a bad CIDR', '  - { name: a, action: allow, from: { ipBlocks: [10.0.0.0/33] } }', 'p.yaml:4:50 authorization[0].from.ipBlocks[0]: "10.0.0.0/33": the prefix length must be 0–32'],
    ['a path without a slash', '  - { name: a, action: allow, to: { paths: [api] } }', 'p.yaml:4:45 authorization[0].to.paths[0]: "api" does not start with "/" or "*": it can never match'],
    ['an empty list', '  - { name: a, action: allow, to: { paths: [] } }', 'p.yaml:4:44 authorization[0].to.paths: an empty list matches nothing: leave the field out to match any'],
    ['a port out of range', '  - { name: a, action: allow, to: { ports: [0] } }', 'p.yaml:4:45 authorization[0].to.ports[0]: Too small: expected number to be >=1'],
    ['a namespace that is not one', '  - { name: a, action: allow, from: { namespaces: [Shop] } }', 'p.yaml:4:52 authorization[0].from.namespaces[0]: "Shop" is not a Kubernetes namespace name (lower-case letters, digits, "-")'],
    ['duplicate names', '  - { name: a, action: allow }\n  - { name: a, action: deny, to: { paths: [/x] } }', 'p.yaml:5:13 authorization[1].name: duplicate rule name "a" (first at authorization[0])'],
  ])('refuses %s', (_name, rules, want) => {
    expect(errors(authz(`${rules}\n`))).toEqual([want]);
  });

  it.each([
    ['a principal in another trust domain', '  - { name: a, action: allow, from: { principals: [spiffe://example.org/ns/a/sa/b] } }', '', 'p.yaml:4:52 authorization[0].from.principals[0]: warning: can never match: "spiffe://example.org/ns/a/sa/b" is in the trust domain example.org, and peers are only accepted from cluster.local'],
    ['principals on a plaintext listener', '  - { name: a, action: allow, from: { principals: ["*"] } }', 'listeners: { inbound: { tls: { mode: disable } } }\nidentity: {}\n', 'p.yaml:5:51 authorization[0].from.principals: warning: can never match: the inbound listener takes only plaintext (tls.mode disable), and a plaintext peer has no principal'],
    ['a path with a query', '  - { name: a, action: allow, to: { paths: ["/a?b=1"] } }', '', 'p.yaml:4:45 authorization[0].to.paths[0]: warning: "/a?b=1" holds a query: paths are matched without one, so it can never match'],
    ['a path not in normal form', '  - { name: a, action: deny, to: { paths: ["/a//b*"] } }', '', 'p.yaml:4:44 authorization[0].to.paths[0]: warning: "/a//b*" is not in normal form: paths are matched normalised ("/a/b"), so write that'],
    ['a deny rule that refuses everything', '  - { name: a, action: deny }', '', 'p.yaml:4:5 authorization[0]: warning: deny rule "a" has neither from nor to: it refuses every inbound request'],
  ])('warns of %s', (_name, rules, extra, want) => {
    const text = extra === '' ? authz(`${rules}\n`) : `version: 1\n${extra}authorization:\n${rules}\n`;
    expect(errors(text)).toEqual([]);
    expect(warnings(text)).toEqual([want]);
  });
});
