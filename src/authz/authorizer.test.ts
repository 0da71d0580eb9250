/**
 * Istio's AuthorizationPolicy semantics, table-driven: deny first, then allow-if-any; every field a
 * rule gives must hold, any value of a field may; principals with `*` at either end (and Istio's
 * scheme-less form); namespaces from the SPIFFE ID; CIDRs; methods; exact / prefix / suffix paths
 * on the normalised path; ports. Plaintext peers have no principal.
 */
import { describe, expect, it } from 'vitest';
import { compileAuthorization, type AuthzInput, type AuthzRule } from './authorizer.js';
import { normalizePath } from './normalize-path.js';
import { checkPattern } from './patterns.js';

const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';
const req = (over: Partial<AuthzInput> = {}): AuthzInput => ({
  principal: FRONTEND, namespace: 'shop', sourceIp: '10.1.2.3', method: 'GET', path: '/reviews/1', port: 9080, ...over,
});

describe('no rules', () => {
  it('compile to nothing: every request passes without a check', () => {
    expect(compileAuthorization([])).toBeUndefined();
    expect(compileAuthorization(undefined)).toBeUndefined();
  });
});

describe('deny first, then allow-if-any', () => {
  const rules: AuthzRule[] = [
    { name: 'allow-frontend', action: 'allow', from: { principals: [FRONTEND] } },
    { name: 'no-admin', action: 'deny', to: { paths: ['/admin*'] } },
    { name: 'allow-health', action: 'allow', to: { paths: ['/healthz'], methods: ['GET'] } },
  ];
  const authz = compileAuthorization(rules)!;

  it.each<[string, Partial<AuthzInput>, boolean, string | null]>([
    ['the frontend, anywhere but /admin', {}, true, 'allow-frontend'],
    ['the frontend on /admin: the deny wins although an allow matches', { path: '/admin/users' }, false, 'no-admin'],
    ['another principal: no allow matches', { principal: 'spiffe://cluster.local/ns/shop/sa/cart' }, false, null],
    ['a plaintext peer on /healthz: the rule without principals admits it', { principal: undefined, namespace: undefined, path: '/healthz' }, true, 'allow-health'],
    ['a plaintext peer elsewhere', { principal: undefined, namespace: undefined }, false, null],
    ['/healthz by POST: methods must hold too', { principal: undefined, path: '/healthz', method: 'POST' }, false, null],
    ['a spelling of /admin that normalises to it', { path: '/./adm%69n//users' }, false, 'no-admin'],
    ['the query is not part of the path', { principal: undefined, path: '/healthz?x=/admin' }, true, 'allow-health'],
  ])('%s', (_name, over, allowed, rule) => {
    const d = authz.decide(req(over));
    expect(d).toMatchObject({ allowed, rule });
  });

  it('with only deny rules, what no deny refuses passes', () => {
    const denyOnly = compileAuthorization([{ name: 'no-admin', action: 'deny', to: { paths: ['/admin*'] } }])!;
    expect(denyOnly.decide(req()).allowed).toBe(true);
    expect(denyOnly.decide(req({ path: '/admin' })).allowed).toBe(false);
  });

  it('a rule with neither from nor to matches every request', () => {
    expect(compileAuthorization([{ name: 'all', action: 'deny' }])!.decide(req({ principal: undefined })).rule).toBe('all');
  });
});

describe('fields', () => {
  const one = (rule: Omit<AuthzRule, 'name' | 'action'>, input: Partial<AuthzInput>): boolean =>
    compileAuthorization([{ name: 'r', action: 'allow', ...rule }])!.decide(req(input)).allowed;

  it.each<[string, Omit<AuthzRule, 'name' | 'action'>, Partial<AuthzInput>, boolean]>([
    ['principal exact', { from: { principals: [FRONTEND] } }, {}, true],
    ['principal in Istio\'s form, without the scheme', { from: { principals: ['cluster.local/ns/shop/sa/frontend'] } }, {}, true],
    ['principal prefix', { from: { principals: ['spiffe://cluster.local/ns/shop/*'] } }, {}, true],
    ['principal prefix, scheme-less', { from: { principals: ['cluster.local/ns/shop/*'] } }, {}, true],
    ['principal prefix of another namespace', { from: { principals: ['cluster.local/ns/ops/*'] } }, {}, false],
    ['principal suffix', { from: { principals: ['*/sa/frontend'] } }, {}, true],
    ['principal "*": any authenticated peer', { from: { principals: ['*'] } }, {}, true],
    ['principal "*" and a plaintext peer', { from: { principals: ['*'] } }, { principal: undefined }, false],
    ['any of several principals', { from: { principals: ['*/sa/cart', '*/sa/frontend'] } }, {}, true],
    ['namespace', { from: { namespaces: ['shop'] } }, {}, true],
    ['namespace prefix', { from: { namespaces: ['sho*'] } }, {}, true],
    ['namespace of a plaintext peer', { from: { namespaces: ['*'] } }, { namespace: undefined }, false],
    ['ipBlock CIDR', { from: { ipBlocks: ['10.0.0.0/8'] } }, {}, true],
    ['ipBlock, an IPv4-mapped peer address', { from: { ipBlocks: ['10.0.0.0/8'] } }, { sourceIp: '::ffff:10.9.9.9' }, true],
    ['ipBlock single address', { from: { ipBlocks: ['10.1.2.4'] } }, {}, false],
    ['ipBlock IPv6', { from: { ipBlocks: ['fd00::/8'] } }, { sourceIp: 'fd00::1' }, true],
    ['method', { to: { methods: ['POST', 'GET'] } }, {}, true],
    ['method not listed', { to: { methods: ['POST'] } }, {}, false],
    ['path exact', { to: { paths: ['/reviews/1'] } }, {}, true],
    ['path exact is not a prefix', { to: { paths: ['/reviews'] } }, {}, false],
    ['path prefix', { to: { paths: ['/reviews/*'] } }, {}, true],
    ['path suffix', { to: { paths: ['*/1'] } }, {}, true],
    ['port', { to: { ports: [9080] } }, {}, true],
    ['port not listed', { to: { ports: [8080] } }, {}, false],
    ['from and to both hold', { from: { namespaces: ['shop'] }, to: { methods: ['GET'] } }, {}, true],
    ['from holds, to does not', { from: { namespaces: ['shop'] }, to: { methods: ['DELETE'] } }, {}, false],
  ])('%s', (_name, rule, input, allowed) => {
    expect(one(rule, input)).toBe(allowed);
  });
});

describe('explain', () => {
  it('lists deny rules then allow rules, the first failing field with the request\'s value, and the decision', () => {
    const authz = compileAuthorization([
      { name: 'allow-cart', action: 'allow', from: { principals: ['*/sa/cart'] } },
      { name: 'no-delete', action: 'deny', to: { methods: ['DELETE'] } },
    ])!;
    const x = authz.explain(req({ path: '/a//b' }));
    expect(x.path).toBe('/a/b');
    expect(x.rules).toEqual([
      { name: 'no-delete', action: 'deny', matched: false, failed: { check: 'methods', condition: 'method in [DELETE]', actual: 'GET' } },
      { name: 'allow-cart', action: 'allow', matched: false, failed: { check: 'principals', condition: 'principal in [*/sa/cart]', actual: FRONTEND } },
    ]);
    expect(x.decision).toMatchObject({ allowed: false, rule: null, reason: 'no allow rule matched (allow rules: allow-cart)' });
  });
});

describe('normalizePath', () => {
  it.each([
    ['/a/b', '/a/b'], ['/a//b', '/a/b'], ['/a/./b', '/a/b'], ['/a/../b', '/b'], ['/../b', '/b'], ['/a/b/', '/a/b/'],
    ['/a/..', '/'], ['/%61dmin', '/admin'], ['/a%2Fb', '/a%2Fb'], ['/%2e%2e/x', '/x'], ['/a?b=/../c', '/a'], ['/', '/'],
  ])('%s → %s', (raw, normal) => {
    expect(normalizePath(raw)).toBe(normal);
  });
});

describe('checkPattern', () => {
  it.each([['*', undefined], ['/a*', undefined], ['*/a', undefined], ['/a', undefined]])('%s is well-formed', (p, r) => {
    expect(checkPattern(p)).toBe(r);
  });
  it.each([['/a*b'], ['*a*'], ['']])('%s is not', (p) => {
    expect(checkPattern(p)).toBeTypeOf('string');
  });
});
