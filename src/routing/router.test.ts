import { describe, expect, it } from 'vitest';
import type { RoutePolicy } from '../config/index.js';
import { compileRouter, type MatchInput } from './router.js';

function route(name: string, match: RoutePolicy['match'] = {}, extra: { priority?: number; direction?: 'inbound' | 'outbound' } = {}): RoutePolicy {
  return { name, direction: extra.direction ?? 'outbound', match, priority: extra.priority ?? 0, timeout: 15_000, to: [{ upstream: 'u' }] } as RoutePolicy;
}

function req(path: string, more: Partial<MatchInput> = {}): MatchInput {
  const q = path.indexOf('?');
  return { host: 'svc', path: q < 0 ? path : path.slice(0, q), query: q < 0 ? '' : path.slice(q + 1), method: 'GET', headers: {}, ...more };
}

function winner(routes: RoutePolicy[], input: MatchInput, direction: 'inbound' | 'outbound' = 'outbound'): string | undefined {
  return compileRouter(routes.map((policy) => ({ policy, value: policy.name }))).match(direction, input);
}

describe('route selection order (SPEC §5)', () => {
  const cases: Array<{ name: string; routes: RoutePolicy[]; input: MatchInput; want: string | undefined }> = [
    {
      name: 'exact path beats prefix and regex whatever their priority and order',
      routes: [route('p', { path: { prefix: '/a' } }, { priority: 100 }), route('r', { path: { regex: '/a' } }, { priority: 100 }), route('e', { path: { exact: '/a' } })],
      input: req('/a'), want: 'e',
    },
    {
      name: 'prefix beats regex whatever the priority',
      routes: [route('r', { path: { regex: '/a/.*' } }, { priority: 9 }), route('p', { path: { prefix: '/a' } })],
      input: req('/a/b'), want: 'p',
    },
    {
      name: 'higher priority beats a longer prefix',
      routes: [route('long', { path: { prefix: '/a/b' } }), route('short', { path: { prefix: '/a' } }, { priority: 1 })],
      input: req('/a/b/c'), want: 'short',
    },
    {
      name: 'longer prefix wins at equal priority',
      routes: [route('short', { path: { prefix: '/a' } }), route('long', { path: { prefix: '/a/b' } }), route('root', { path: { prefix: '/' } })],
      input: req('/a/b/c'), want: 'long',
    },
    {
      name: 'more conditions win at equal type, priority and prefix',
      routes: [route('plain', { path: { prefix: '/a' } }), route('hdr', { path: { prefix: '/a' }, headers: { 'x-k': { present: true } } })],
      input: req('/a', { headers: { 'x-k': '1' } }), want: 'hdr',
    },
    {
      name: 'file order breaks a complete tie',
      routes: [route('first', { path: { prefix: '/a' } }), route('second', { path: { prefix: '/a' } })],
      input: req('/a'), want: 'first',
    },
    {
      name: 'file order breaks ties among regexes',
      routes: [route('r1', { path: { regex: '/a.*' } }), route('r2', { path: { regex: '/.*' } })],
      input: req('/ab'), want: 'r1',
    },
    {
      name: 'regex priority beats file order',
      routes: [route('r1', { path: { regex: '/a.*' } }), route('r2', { path: { regex: '/.*' } }, { priority: 3 })],
      input: req('/ab'), want: 'r2',
    },
    {
      name: 'a failing condition falls through to the next in order',
      routes: [route('hdr', { path: { exact: '/a' }, headers: { 'x-k': { exact: 'v' } } }), route('p', { path: { prefix: '/' } })],
      input: req('/a', { headers: { 'x-k': 'w' } }), want: 'p',
    },
    {
      name: 'no path means prefix "/"',
      routes: [route('any'), route('r', { path: { regex: '.*' } }, { priority: 5 })],
      input: req('/zzz'), want: 'any',
    },
    {
      name: 'regexes match the whole path, not a substring',
      routes: [route('r', { path: { regex: '/api/.*' } })],
      input: req('/x/api/y'), want: undefined,
    },
    {
      name: 'a regex with alternation is not indexed by a wrong literal prefix',
      routes: [route('r', { path: { regex: '/a/x|/b/.*' } })],
      input: req('/b/q'), want: 'r',
    },
    {
      name: 'a quantified last literal is not required (ab? matches a)',
      routes: [route('r', { path: { regex: '/ab?' } })],
      input: req('/a'), want: 'r',
    },
    {
      name: 'prefix is a string prefix (Envoy), not a segment prefix',
      routes: [route('p', { path: { prefix: '/api' } })],
      input: req('/apix'), want: 'p',
    },
  ];
  it.each(cases)('$name', ({ routes, input, want }) => {
    expect(winner(routes, input)).toBe(want);
  });
});

describe('hosts', () => {
  const routes = [
    route('any', { path: { exact: '/a' } }),
    route('wild', { host: '*.example.com', path: { regex: '/.*' } }),
    route('deep-wild', { host: '*.eu.example.com', path: { regex: '/.*' } }),
    route('exact', { host: 'api.example.com', path: { regex: '/.*' } }),
    route('port', { host: 'Ported:8080', path: { prefix: '/' } }),
  ];
  it.each([
    ['api.example.com', 'exact'],
    ['API.Example.COM', 'exact'],
    ['web.example.com', 'wild'],
    ['x.eu.example.com', 'deep-wild'],
    ['example.com', 'any'],
    ['ported', 'port'],
    ['other', 'any'],
  ])('%s → %s', (host, want) => {
    expect(winner(routes, req('/a', { host }))).toBe(want);
  });
  it('falls back to a less specific host bucket when the specific one has no match', () => {
    const rs = [route('exact', { host: 'h', path: { exact: '/x' } }), route('wild', { host: '*.h' }), route('any', { path: { prefix: '/' } })];
    expect(winner(rs, req('/y', { host: 'h' }))).toBe('any');
    expect(winner(rs, req('/x', { host: 'h' }))).toBe('exact');
  });
  it('"*" is any host', () => {
    expect(winner([route('star', { host: '*' })], req('/', { host: 'whatever' }))).toBe('star');
  });
});

describe('directions', () => {
  it('keeps inbound and outbound routes apart', () => {
    const rs = [route('in', {}, { direction: 'inbound' }), route('out')];
    expect(winner(rs, req('/'), 'inbound')).toBe('in');
    expect(winner(rs, req('/'), 'outbound')).toBe('out');
    expect(winner([route('in', {}, { direction: 'inbound' })], req('/'), 'outbound')).toBeUndefined();
  });
});

describe('conditions', () => {
  const one = (match: RoutePolicy['match'], input: MatchInput): boolean => winner([route('r', match)], input) === 'r';
  it.each<[string, RoutePolicy['match'], MatchInput, boolean]>([
    ['method in list', { method: ['GET', 'POST'] }, req('/', { method: 'POST' }), true],
    ['method not in list', { method: ['GET'] }, req('/', { method: 'DELETE' }), false],
    ['header exact', { headers: { 'X-Canary': { exact: 'true' } } }, req('/', { headers: { 'x-canary': 'true' } }), true],
    ['header exact mismatch', { headers: { 'x-canary': { exact: 'true' } } }, req('/', { headers: { 'x-canary': 'TRUE' } }), false],
    ['header prefix', { headers: { 'user-agent': { prefix: 'curl/' } } }, req('/', { headers: { 'user-agent': 'curl/8' } }), true],
    ['header regex is a full match', { headers: { 'x-v': { regex: 'v[0-9]+' } } }, req('/', { headers: { 'x-v': 'v12x' } }), false],
    ['header regex', { headers: { 'x-v': { regex: 'v[0-9]+' } } }, req('/', { headers: { 'x-v': 'v12' } }), true],
    ['header present', { headers: { 'x-a': { present: true } } }, req('/', { headers: { 'x-a': '' } }), true],
    ['header present, absent', { headers: { 'x-a': { present: true } } }, req('/'), false],
    ['header absent', { headers: { 'x-a': { present: false } } }, req('/'), true],
    ['header absent, present', { headers: { 'x-a': { present: false } } }, req('/', { headers: { 'x-a': '1' } }), false],
    ['repeated header joined with ","', { headers: { 'x-a': { exact: '1,2' } } }, req('/', { headers: { 'x-a': ['1', '2'] } }), true],
    ['query exact', { query: { debug: { exact: '1' } } }, req('/?a=2&debug=1'), true],
    ['query decoded', { query: { q: { exact: 'a b' } } }, req('/?q=a+b'), true],
    ['query missing', { query: { debug: { present: true } } }, req('/?a=1'), false],
    ['query absent with no query string', { query: { debug: { present: false } } }, req('/'), true],
    ['jsonBody exact', { jsonBody: { 'order.priority': { exact: 'high' } } }, req('/', { json: { order: { priority: 'high' } } }), true],
    ['jsonBody number as written', { jsonBody: { 'order.qty': { exact: '5' } } }, req('/', { json: { order: { qty: 5 } } }), true],
    ['jsonBody array index', { jsonBody: { 'items.1.sku': { prefix: 'B' } } }, req('/', { json: { items: [{ sku: 'A1' }, { sku: 'B2' }] } }), true],
    ['jsonBody mismatch', { jsonBody: { 'order.priority': { exact: 'high' } } }, req('/', { json: { order: { priority: 'low' } } }), false],
    ['jsonBody without a body', { jsonBody: { 'order.priority': { present: false } } }, req('/'), false],
    ['jsonBody absent field', { jsonBody: { 'order.x': { present: false } } }, req('/', { json: { order: {} } }), true],
    ['jsonBody object is not a string', { jsonBody: { order: { regex: '.*' } } }, req('/', { json: { order: {} } }), false],
    ['jsonBody never walks prototypes', { jsonBody: { 'a.constructor': { present: true } } }, req('/', { json: { a: {} } }), false],
    ['jsonBody __proto__ is not a property', { jsonBody: { '__proto__.x': { present: true } } }, req('/', { json: JSON.parse('{"a":1}') as unknown }), false],
  ])('%s', (_name, match, input, want) => {
    expect(one(match, input)).toBe(want);
  });
});

describe('needsBody', () => {
  const router = compileRouter([
    { policy: route('json', { host: 'orders', path: { prefix: '/orders' }, method: ['POST'], jsonBody: { 'order.priority': { exact: 'high' } } }), value: 'json' },
    { policy: route('orders', { host: 'orders', path: { prefix: '/' } }), value: 'orders' },
    { policy: route('health', { host: 'orders', path: { exact: '/orders/health' } }), value: 'health' },
    { policy: route('plain', { host: 'other' }), value: 'plain' },
  ]);
  it('by host: only hosts with a jsonBody route', () => {
    expect(router.needsBody('outbound', 'orders')).toBe(true);
    expect(router.needsBody('outbound', 'ORDERS')).toBe(true);
    expect(router.needsBody('outbound', 'other')).toBe(false);
    expect(router.needsBody('inbound', 'orders')).toBe(false);
  });
  it('by request: only when the body could change the winner', () => {
    const input = (path: string, method: string): MatchInput => ({ host: 'orders', path, query: '', method, headers: {} });
    expect(router.needsBodyFor('outbound', input('/orders/1', 'POST'))).toBe(true);
    expect(router.needsBodyFor('outbound', input('/orders/1', 'GET'))).toBe(false); // method fails first
    expect(router.needsBodyFor('outbound', input('/orders/health', 'POST'))).toBe(false); // exact wins anyway
    expect(router.needsBodyFor('outbound', input('/x', 'POST'))).toBe(false);
  });
  it('matches with the buffered body, falls through without it', () => {
    const input: MatchInput = { host: 'orders', path: '/orders/1', query: '', method: 'POST', headers: {} };
    expect(router.match('outbound', { ...input, json: { order: { priority: 'high' } } })).toBe('json');
    expect(router.match('outbound', input)).toBe('orders');
  });
  it('a policy without jsonBody never needs the body', () => {
    const r = compileRouter([{ policy: route('a'), value: 1 }]);
    expect(r.needsBody('outbound', 'x')).toBe(false);
  });
});

describe('compile errors', () => {
  it('names the route with a regex the linear engine rejects', () => {
    expect(() => compileRouter([{ policy: route('bad', { path: { regex: '(a)\\1' } }), value: 1 }])).toThrow(/route bad/);
  });
});
