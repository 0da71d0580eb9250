/**
 * Differential test: the indexed router (hash map, radix trie, k-way merge, host buckets) against a
 * naive reference written straight from SPEC §5 — filter every route, sort by the precedence order,
 * take the first — over random policies built from small pools so ties, shared prefixes, regexes
 * with and without literal heads, and every condition kind collide often. `explain` must name the
 * same winner. Seeded: a failure prints the seed and reproduces exactly.
 */
import { describe, expect, it } from 'vitest';
import type { RoutePolicy, StringMatchPolicy } from '../config/index.js';
import { compileRouter, type MatchInput } from './router.js';
import { mulberry32 } from './seeded-random.js';


const HOSTS = ['a.svc', 'b.svc', '*.svc', '*.x.svc', undefined, undefined, 'A.SVC', '*'];
const EXACT = ['/', '/a', '/a/b', '/ab', '/b'];
const PREFIX = ['/', '/a', '/a/', '/ab', '/a/b', '/b', '/a/b/c'];
const REGEX = ['/a/(b|c)', '/(a|ab)/?b*', '/((a|b)/c|b)', '/a/.*', '/a.*', '/(a|b)/.*', '.*b', '/a/b', '/ab?', '/[ab]/c', '/a/b|/c', '/a+/?b*', '.*'];
const MATCHES: StringMatchPolicy[] = [{ exact: '1' }, { exact: '2' }, { prefix: '1' }, { present: true }, { present: false }, { regex: '[12]' }];

const REQ_HOSTS = ['a.svc', 'b.svc', 'q.x.svc', 'x.svc', 'other', 'A.svc', 'svc'];
const REQ_PATHS = ['/', '/a', '/a/b', '/a/c', '/ab', '/abb', '/b', '/b/c', '/c', '/a/b/c', '/aab', '/a/'];

function randomPolicy(rnd: () => number, size: number): RoutePolicy[] {
  const pick = <X>(xs: readonly X[]): X => xs[Math.floor(rnd() * xs.length)]!;
  const routes: RoutePolicy[] = [];
  for (let i = 0; i < size; i++) {
    const match: Record<string, unknown> = {};
    const host = pick(HOSTS);
    if (host !== undefined) match['host'] = host;
    const kind = rnd();
    if (kind < 0.3) match['path'] = { exact: pick(EXACT) };
    else if (kind < 0.65) match['path'] = { prefix: pick(PREFIX) };
    else if (kind < 0.9) match['path'] = { regex: pick(REGEX) };
    if (rnd() < 0.25) match['method'] = rnd() < 0.5 ? ['GET'] : ['GET', 'POST'];
    if (rnd() < 0.35) match['headers'] = { 'x-h': pick(MATCHES) };
    if (rnd() < 0.2) match['query'] = { q: pick(MATCHES) };
    if (rnd() < 0.15) match['jsonBody'] = { 'a.b': pick(MATCHES) };
    routes.push({
      name: `r${i}`, direction: rnd() < 0.85 ? 'outbound' : 'inbound', match, priority: pick([0, 0, 0, 1, 2]), timeout: 15_000,
    } as RoutePolicy);
  }
  return routes;
}

function randomRequest(rnd: () => number): MatchInput {
  const pick = <X>(xs: readonly X[]): X => xs[Math.floor(rnd() * xs.length)]!;
  const headers: Record<string, string> = {};
  if (rnd() < 0.6) headers['x-h'] = pick(['1', '2', '12', '3']);
  const input: MatchInput = {
    host: pick(REQ_HOSTS), path: pick(REQ_PATHS), method: pick(['GET', 'POST', 'PUT']), headers,
    query: pick(['', 'q=1', 'q=2', 'z=1', 'q=12']),
  };
  if (rnd() < 0.5) input.json = pick([{ a: { b: '1' } }, { a: { b: 2 } }, { a: {} }, { a: { b: '12' } }]);
  return input;
}

/** SPEC §5 read literally. Independent of the router's code on purpose. */
function reference(routes: readonly RoutePolicy[], direction: string, input: MatchInput): string | undefined {
  const host = input.host.toLowerCase();
  const str = (m: StringMatchPolicy, v: string | undefined): boolean => {
    if ('present' in m) return m.present === (v !== undefined);
    if (v === undefined) return false;
    if ('exact' in m) return v === m.exact;
    if ('prefix' in m) return v.startsWith(m.prefix);
    return new RegExp(`^(?:${m.regex})$`).test(v);
  };
  const params = new URLSearchParams(input.query);
  const json = input.json as { a?: { b?: unknown } } | undefined;
  const candidates = routes.map((r, order) => ({ r, order })).filter(({ r }) => {
    if (r.direction !== direction) return false;
    const m = r.match;
    const p = m.path ?? { prefix: '/' };
    if ('exact' in p && input.path !== p.exact) return false;
    if ('prefix' in p && !input.path.startsWith(p.prefix)) return false;
    if ('regex' in p && !new RegExp(`^(?:${p.regex})$`).test(input.path)) return false;
    if (m.method && !m.method.includes(input.method)) return false;
    for (const [k, c] of Object.entries(m.headers ?? {})) if (!str(c, input.headers[k] as string | undefined)) return false;
    for (const [k, c] of Object.entries(m.query ?? {})) if (!str(c, params.get(k) ?? undefined)) return false;
    for (const [, c] of Object.entries(m.jsonBody ?? {})) {
      if (json === undefined) return false;
      const v = json.a?.b;
      if ('present' in c ? c.present !== (v !== undefined) : !str(c, v === undefined ? undefined : String(v))) return false;
    }
    return true;
  });
  const hostTier = (h: string | undefined): [number, number] => {
    if (h === undefined || h === '*') return [2, 0];
    const lower = h.toLowerCase();
    if (lower.startsWith('*.')) return host.endsWith(lower.slice(1)) ? [1, -lower.length] : [9, 0];
    return lower === host ? [0, 0] : [9, 0];
  };
  const facts = candidates.map(({ r, order }) => {
    const p = r.match.path ?? { prefix: '/' };
    const type = 'exact' in p ? 0 : 'prefix' in p ? 1 : 2;
    const conditions = (r.match.host && r.match.host !== '*' ? 1 : 0) + (r.match.method ? 1 : 0)
      + Object.keys(r.match.headers ?? {}).length + Object.keys(r.match.query ?? {}).length + Object.keys(r.match.jsonBody ?? {}).length;
    return { name: r.name, key: [...hostTier(r.match.host), type, -r.priority, 'prefix' in p ? -p.prefix.length : 0, -conditions, order] };
  }).filter((f) => f.key[0]! < 9);
  facts.sort((x, y) => {
    for (let i = 0; i < x.key.length; i++) if (x.key[i] !== y.key[i]) return x.key[i]! - y.key[i]!;
    return 0;
  });
  return facts[0]?.name;
}

describe('indexed router ≡ SPEC §5 reference', () => {
  it.each(Array.from({ length: 40 }, (_, i) => 1000 + i))('seed %i', (seed) => {
    const rnd = mulberry32(seed);
    const routes = randomPolicy(rnd, 5 + Math.floor(rnd() * 60));
    const router = compileRouter(routes.map((policy) => ({ policy, value: policy.name })));
    for (let i = 0; i < 400; i++) {
      const input = randomRequest(rnd);
      const direction = rnd() < 0.85 ? 'outbound' : 'inbound';
      const want = reference(routes, direction, input);
      expect(router.match(direction, input), `seed ${seed} request ${JSON.stringify(input)}`).toBe(want);
      expect(router.explain(direction, input).winner?.name).toBe(want);
      // needsBodyFor false ⇒ the winner is the same with and without the body.
      if (!router.needsBodyFor(direction, input)) {
        const { json: _json, ...bare } = input;
        expect(router.match(direction, bare)).toBe(want);
      }
    }
  });
});
