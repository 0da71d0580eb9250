import { describe, expect, it } from 'vitest';
import type { RoutePolicy } from '../config/index.js';
import { compileRouter, type MatchInput } from './router.js';
import { findShadowedRoutes } from './shadow.js';
import { mulberry32 } from './seeded-random.js';

function route(name: string, match: RoutePolicy['match'], priority = 0, direction: 'inbound' | 'outbound' = 'outbound'): RoutePolicy {
  return { name, direction, match, priority, timeout: 15_000 } as RoutePolicy;
}

const shadowed = (routes: RoutePolicy[]): Array<[string, string]> => findShadowedRoutes(routes).map((w) => [w.name, w.shadowedBy.name]);

describe('findShadowedRoutes', () => {
  it.each<[string, RoutePolicy[], Array<[string, string]>]>([
    ['a catch-all earlier in the file hides an identical route', [route('a', {}), route('b', {})], [['b', 'a']]],
    ['the same exact path with no extra conditions', [route('a', { path: { exact: '/x' } }), route('b', { path: { exact: '/x' } })], [['b', 'a']]],
    ['a higher-priority shorter prefix hides a longer one', [route('long', { path: { prefix: '/api/v1' } }), route('short', { path: { prefix: '/api' } }, 5)], [['long', 'short']]],
    ['a prefix hides a regex whose literal head it covers', [route('p', { path: { prefix: '/img' } }), route('r', { path: { regex: '/img/[a-z]+\\.png' } })], [['r', 'p']]],
    ['the identical regex', [route('r1', { path: { regex: '/a.*' } }), route('r2', { path: { regex: '/a.*' } })], [['r2', 'r1']]],
    ['a broader header condition with higher priority', [
      route('narrow', { headers: { 'x-v': { exact: 'v2' } } }),
      route('broad', { headers: { 'X-V': { prefix: 'v' } } }, 1),
    ], [['narrow', 'broad']]],
    ['a regex header condition proven on the exact value', [
      route('narrow', { query: { v: { exact: 'v2' } } }),
      route('broad', { query: { v: { regex: 'v[0-9]' } } }, 1),
    ], [['narrow', 'broad']]],
    ['present covers any value', [route('any-h', { headers: { h: { present: true } } }, 1), route('exact-h', { headers: { h: { exact: '1' } } })], [['exact-h', 'any-h']]],
    ['a method superset', [route('all', { method: ['GET', 'POST'] }, 1), route('get', { method: ['GET'] })], [['get', 'all']]],
    ['a route without jsonBody hides one with it at lower precedence', [route('plain', {}, 1), route('json', { jsonBody: { a: { exact: '1' } } })], [['json', 'plain']]],
  ])('reports: %s', (_name, routes, want) => {
    expect(shadowed(routes)).toEqual(want);
  });

  it.each<[string, RoutePolicy[]]>([
    ['a longer prefix wins at equal priority', [route('short', { path: { prefix: '/api' } }), route('long', { path: { prefix: '/api/v1' } })]],
    ['more conditions win', [route('plain', { path: { prefix: '/' } }), route('hdr', { headers: { h: { present: true } } })]],
    ['exact beats prefix', [route('p', { path: { prefix: '/' } }, 9), route('e', { path: { exact: '/x' } })]],
    ['a different host bucket', [route('any', {}, 9), route('h', { host: 'h' })]],
    ['a broader wildcard does not hide a narrower one', [route('wide', { host: '*.com' }, 9), route('narrow', { host: '*.example.com' })]],
    ['a different direction', [route('out', {}, 9), route('in', {}, 0, 'inbound')]],
    ['different regexes (not provable)', [route('r1', { path: { regex: '/a.*' } }, 9), route('r2', { path: { regex: '/ab.*' } })]],
    ['a regex with top-level alternation under a prefix', [route('p', { path: { prefix: '/a' } }), route('r', { path: { regex: '/a/x|/b' } })]],
    ['a condition the later route lacks', [route('hdr', { headers: { h: { exact: '1' } } }, 9), route('plain', {})]],
    ['absent is not implied by a value', [route('absent', { headers: { h: { present: false } } }, 9), route('val', { headers: { h: { exact: '1' } } })]],
    ['a method the earlier route lacks', [route('get', { method: ['GET'] }, 9), route('both', { method: ['GET', 'POST'] })]],
    ['query names are case-sensitive', [route('q', { query: { Q: { present: true } } }, 9), route('r', { query: { q: { exact: '1' } } })]],
  ])('does not report: %s', (_name, routes) => {
    expect(shadowed(routes)).toEqual([]);
  });

  it('names the first winner in precedence order and explains why', () => {
    const w = findShadowedRoutes([route('a', { path: { prefix: '/' } }), route('b', { path: { prefix: '/x' } }, 3), route('c', { path: { prefix: '/x/y' } }, 1)]);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ index: 2, name: 'c', shadowedBy: { index: 1, name: 'b' } });
    expect(w[0]!.message).toBe('route "c" can never win: route "b" (routes[1]) matches every request it matches and takes precedence (priority 3 > 1)');
  });

  it('skips routes whose regex does not compile (reported elsewhere)', () => {
    expect(() => findShadowedRoutes([route('bad', { path: { regex: '(a)\\1' } }), route('ok', {})])).not.toThrow();
  });
});

describe('findShadowedRoutes is sound', () => {
  const matches = [{ exact: '1' }, { prefix: '1' }, { present: true }, { present: false }, { regex: '[12]' }, { exact: '12' }];
  it('a reported route never wins any request (random policies and requests)', () => {
    let reported = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const rnd = mulberry32(seed);
      const pick = <X>(xs: readonly X[]): X => xs[Math.floor(rnd() * xs.length)]!;
      const routes: RoutePolicy[] = Array.from({ length: 30 }, (_, i) => {
        const m: Record<string, unknown> = {};
        if (rnd() < 0.3) m['host'] = pick(['h', '*.h']);
        const k = rnd();
        if (k < 0.25) m['path'] = { exact: pick(['/a', '/a/b', '/b']) };
        else if (k < 0.6) m['path'] = { prefix: pick(['/', '/a', '/a/b', '/b']) };
        else if (k < 0.85) m['path'] = { regex: pick(['/a/.*', '/a.*', '/a/b', '/a/(b|c)', '.*']) };
        if (rnd() < 0.3) m['method'] = pick([['GET'], ['GET', 'POST']]);
        if (rnd() < 0.4) m['headers'] = { x: pick(matches) };
        if (rnd() < 0.2) m['query'] = { q: pick(matches) };
        return route(`r${i}`, m as RoutePolicy['match'], pick([0, 0, 1, 2]));
      });
      const warned = new Set(findShadowedRoutes(routes).map((w) => w.name));
      reported += warned.size;
      const router = compileRouter(routes.map((policy) => ({ policy, value: policy.name })));
      for (let i = 0; i < 2000; i++) {
        const input: MatchInput = {
          host: pick(['h', 'x.h', 'other']), path: pick(['/', '/a', '/a/b', '/a/c', '/ab', '/b', '/b/c']),
          method: pick(['GET', 'POST', 'PUT']), query: pick(['', 'q=1', 'q=2', 'q=12']),
          headers: rnd() < 0.7 ? { x: pick(['1', '2', '12', '3']) } : {},
        };
        const w = router.match('outbound', input);
        if (w !== undefined) expect(warned.has(w), `seed ${seed}: ${w} won ${JSON.stringify(input)}`).toBe(false);
      }
    }
    expect(reported).toBeGreaterThan(20); // the property is not vacuous
  });
});
