/**
 * Routing through the real sidecar (SPEC §4–5): matching, weighted splits and subsets, sticky
 * sessions, jsonBody, rewrite and header operations, mirroring, passthrough, explain.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NO_EVENTS, type ProxyEvents } from '../src/core/events.js';
import { createLogger } from '../src/log.js';
import { Sidecar } from '../src/sidecar.js';
import { request, waitFor, type Reply } from './helpers/http.js';
import { CLI, ROOT, testListeners, writePolicy } from './helpers/sidecar.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

/** Upstreams that answer with their own name (and echo what they saw). */
const named = (name: string): http.RequestListener => (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    res.writeHead(200, { 'content-type': 'application/json', 'x-served-by': name, 'x-upstream-only': 'secret' });
    res.end(JSON.stringify({ name, url: req.url, host: req.headers.host, headers: req.headers, bodyBytes: body.length }));
  });
};

const ups: Record<string, Upstream> = {};
const sidecars: Sidecar[] = [];
let agent: http.Agent;

beforeAll(async () => {
  for (const n of ['a1', 'a2', 'b1', 'b2', 'c', 'shadow']) ups[n] = await startUpstream(named(n));
  agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
});
afterAll(async () => { agent.destroy(); for (const u of Object.values(ups)) await u.close(); });
afterEach(async () => { for (const s of sidecars.splice(0)) await s.close(); });

async function start(body: string, events: ProxyEvents = NO_EVENTS, app = 'http://127.0.0.1:1'): Promise<Sidecar> {
  const file = await writePolicy(`version: 1\n${testListeners(app)}\n${body}`);
  const s = await Sidecar.start({ policyFile: file, log: createLogger('silent'), watch: false, events });
  sidecars.push(s);
  return s;
}

const svc = `upstreams:
  svc:
    endpoints:
      - { address: "${'A1'}", labels: { version: v1 } }
      - { address: "${'A2'}", labels: { version: v1 } }
      - { address: "${'B1'}", labels: { version: v2 } }
      - { address: "${'B2'}", labels: { version: v2 } }
    subsets: { v1: { version: v1 }, v2: { version: v2 } }
`;
const svcUpstream = (extra = ''): string => svc.replace("'A1'", '').replace('A1', ups.a1!.address).replace('A2', ups.a2!.address).replace('B1', ups.b1!.address).replace('B2', ups.b2!.address).replace('    subsets:', `${extra}    subsets:`);

async function many(s: Sidecar, n: number, opts: Parameters<typeof request>[1]): Promise<Reply[]> {
  const out: Reply[] = [];
  for (let i = 0; i < n; i += 50) {
    out.push(...await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => request(s.ports.outbound, { agent, ...opts }))));
  }
  return out;
}

describe('matching', () => {
  it('applies SPEC §5 precedence: exact > prefix > regex, priority, longer prefix; exact host beats wildcard', async () => {
    const s = await start(`${svcUpstream()}
  other: { endpoints: [{ address: "${ups.c!.address}" }] }
routes:
  - { name: catch-all, match: { host: svc, path: { prefix: / } }, to: [{ upstream: svc, subset: v1 }] }
  - { name: api, match: { host: svc, path: { prefix: /api } }, to: [{ upstream: svc, subset: v2 }] }
  - { name: regex, match: { host: svc, path: { regex: "/api/v[0-9]+/items" } }, priority: 100, to: [{ upstream: other }] }
  - { name: exact, match: { host: svc, path: { exact: /api/v1/items } }, to: [{ upstream: other }], headers: { response: { set: { x-route: exact } } } }
  - { name: canary, match: { host: svc, path: { prefix: /api }, headers: { x-canary: { exact: "true" } } }, to: [{ upstream: other }] }
  - { name: posts, match: { host: svc, path: { prefix: /api }, method: [POST], query: { dry: { present: true } } }, priority: 5, to: [{ upstream: other }], headers: { response: { set: { x-route: posts } } } }
  - { name: wild, match: { host: "*.example.com" }, to: [{ upstream: other }] }
  - { name: regex-only, match: { host: re.svc, path: { regex: "/api/v[0-9]+/items" } }, to: [{ upstream: other }] }
  - { name: exact-host, match: { host: a.example.com }, to: [{ upstream: svc, subset: v1 }] }
`);
    const go = async (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> =>
      request(s.ports.outbound, { path, method, headers: { host: 'svc', ...headers } });
    expect((await go('/x')).headers['x-served-by']).toMatch(/^a/);
    expect((await go('/api/x')).headers['x-served-by']).toMatch(/^b/);
    // The regex route has priority 100, but match type comes first: the /api prefix route wins.
    expect((await go('/api/v2/items')).headers['x-served-by']).toMatch(/^b/);
    expect((await go('/api/v7/items', { host: 're.svc' })).headers['x-served-by']).toBe('c');
    expect((await go('/api/v7/itemsX', { host: 're.svc' })).status).toBe(404);
    expect((await go('/api/v1/items')).headers['x-route']).toBe('exact');
    expect((await go('/api/x', { 'x-canary': 'true' })).headers['x-served-by']).toBe('c');
    expect((await go('/api/x?dry=1', {}, 'POST')).headers['x-route']).toBe('posts');
    expect((await go('/', { host: 'b.example.com' })).headers['x-served-by']).toBe('c');
    expect((await go('/', { host: 'a.example.com:8080' })).headers['x-served-by']).toMatch(/^a/);
  });
});

describe('splits and subsets', () => {
  it('a 90/10 split over 3,000 requests lands within ±3 points', async () => {
    const s = await start(`${svcUpstream()}
routes:
  - { name: split, match: { host: svc }, to: [{ upstream: svc, subset: v1, weight: 90 }, { upstream: svc, subset: v2, weight: 10 }] }
`);
    const rs = await many(s, 3000, { headers: { host: 'svc' } });
    const v2 = rs.filter((r) => /^b/.test(String(r.headers['x-served-by']))).length;
    expect(rs.every((r) => r.status === 200)).toBe(true);
    // p = 0.1, n = 3000: σ ≈ 16.4 requests (0.55 points); ±3 points is more than 5σ.
    expect(Math.abs(v2 / 3000 - 0.1)).toBeLessThan(0.03);
    // Round-robin inside each subset: both endpoints of v1 serve.
    const a1 = rs.filter((r) => r.headers['x-served-by'] === 'a1').length;
    expect(a1).toBeGreaterThan(1000);
  });

  it('a destination whose endpoints are all unhealthy leaves the split; none left is 503 UH', async () => {
    const flaky = await startUpstream((req, res) => { req.resume(); res.writeHead(req.url === '/healthz' ? 503 : 200); res.end('x'); });
    try {
      const s = await start(`upstreams:
  svc:
    endpoints: [{ address: "${flaky.address}", labels: { version: v1 } }, { address: "${ups.b1!.address}", labels: { version: v2 } }]
    subsets: { v1: { version: v1 }, v2: { version: v2 } }
    healthCheck: { path: /healthz, interval: 30ms, timeout: 5s, unhealthyThreshold: 1, healthyThreshold: 1 }
routes:
  - { name: split, match: { host: svc }, to: [{ upstream: svc, subset: v1, weight: 90 }, { upstream: svc, subset: v2, weight: 10 }] }
`);
      // b1 answers /healthz with 200 (named handler), flaky with 503: v1 leaves, v2 takes everything.
      // The timeout is generous: flaky fails by its answer, and one slow probe of b1 on a loaded
      // machine must not take v2 out too (that is the 503 UH case, answered with no x-served-by).
      await waitFor(async () => ((await request(s.ports.admin, { path: '/clusters' })).json().upstreams[0].endpoints.filter((e: { healthy: boolean }) => !e.healthy).length === 1), { what: 'v1 unhealthy' });
      const rs = await many(s, 100, { headers: { host: 'svc' } });
      expect(new Set(rs.map((r) => r.headers['x-served-by']))).toEqual(new Set(['b1']));
    } finally {
      await flaky.close();
    }
  });
});

describe('sticky sessions', () => {
  it('by header: a user keeps its destination and endpoint', async () => {
    const s = await start(`${svcUpstream('    loadBalancer: least-request\n')}
routes:
  - name: sticky
    match: { host: svc }
    to: [{ upstream: svc, subset: v1, weight: 50 }, { upstream: svc, subset: v2, weight: 50 }]
    sticky: { header: x-user-id }
`);
    const servedBy = new Map<string, Set<string>>();
    for (let u = 0; u < 40; u++) {
      for (let i = 0; i < 5; i++) {
        const r = await request(s.ports.outbound, { agent, headers: { host: 'svc', 'x-user-id': `user-${u}` } });
        const set = servedBy.get(`user-${u}`) ?? new Set<string>();
        set.add(String(r.headers['x-served-by']));
        servedBy.set(`user-${u}`, set);
      }
    }
    for (const set of servedBy.values()) expect(set.size).toBe(1);
    const used = new Set([...servedBy.values()].map((x) => [...x][0]));
    expect(used.size).toBe(4); // 40 users spread over all four endpoints
  });

  it('by cookie: sets the cookie once, keeps the endpoint, remaps once when it dies and then stays', async () => {
    const health = new Map<string, boolean>();
    const eps: Upstream[] = [];
    for (let i = 0; i < 3; i++) {
      const name = `e${i}`;
      health.set(name, true);
      eps.push(await startUpstream((req, res) => {
        req.resume();
        if (req.url === '/healthz') { res.writeHead(health.get(name) ? 200 : 503); res.end(); return; }
        res.writeHead(200, { 'x-served-by': name }); res.end();
      }));
    }
    try {
      const s = await start(`upstreams:
  svc:
    endpoints: [${eps.map((e) => `{ address: "${e.address}" }`).join(', ')}]
    healthCheck: { path: /healthz, interval: 30ms, timeout: 200ms, unhealthyThreshold: 1, healthyThreshold: 1 }
routes:
  - { name: cookie, match: { host: svc }, to: [{ upstream: svc }], sticky: { cookie: { name: sid, ttl: 1h } } }
`);
      const first = await request(s.ports.outbound, { headers: { host: 'svc' } });
      const setCookie = first.headers['set-cookie']?.[0] ?? '';
      expect(setCookie).toMatch(/^sid=[^;]+; .*Max-Age=3600/i);
      const cookie = setCookie.split(';')[0]!;
      const home = String(first.headers['x-served-by']);
      for (let i = 0; i < 10; i++) {
        const r = await request(s.ports.outbound, { headers: { host: 'svc', cookie } });
        expect(r.headers['x-served-by']).toBe(home);
        expect(r.headers['set-cookie']).toBeUndefined();
      }
      health.set(home, false);
      const moved = await waitFor(async () => { const r = await request(s.ports.outbound, { headers: { host: 'svc', cookie } }); return r.headers['x-served-by'] !== home ? String(r.headers['x-served-by']) : undefined; }, { what: 'the session to move' });
      health.set(home, true);
      await waitFor(async () => ((await request(s.ports.admin, { path: '/clusters' })).json().upstreams[0].endpoints.every((e: { healthy: boolean }) => e.healthy)), { what: 'all healthy again' });
      for (let i = 0; i < 10; i++) expect((await request(s.ports.outbound, { headers: { host: 'svc', cookie } })).headers['x-served-by']).toBe(moved);
    } finally {
      for (const e of eps) await e.close();
    }
  });
});

describe('jsonBody', () => {
  it('routes on a JSON field and forwards the body intact; larger or non-JSON bodies do not match', async () => {
    const s = await start(`${svcUpstream()}
routes:
  - { name: high, match: { host: svc, jsonBody: { "order.priority": { exact: high } } }, to: [{ upstream: svc, subset: v2 }] }
  - { name: rest, match: { host: svc }, to: [{ upstream: svc, subset: v1 }] }
`);
    const post = (body: string, type = 'application/json'): Promise<Reply> => request(s.ports.outbound, { method: 'POST', headers: { host: 'svc', 'content-type': type }, body });
    const high = await post(JSON.stringify({ order: { priority: 'high', id: 7 } }));
    expect(high.headers['x-served-by']).toMatch(/^b/);
    expect(high.json().bodyBytes).toBe(JSON.stringify({ order: { priority: 'high', id: 7 } }).length);
    expect((await post(JSON.stringify({ order: { priority: 'low' } }))).headers['x-served-by']).toMatch(/^a/);
    expect((await post(JSON.stringify({ order: { priority: 'high' } }), 'text/plain')).headers['x-served-by']).toMatch(/^a/);
    const big = JSON.stringify({ order: { priority: 'high' }, pad: 'x'.repeat(70 * 1024) });
    const r = await post(big);
    expect(r.headers['x-served-by']).toMatch(/^a/);
    expect(r.json().bodyBytes).toBe(big.length);
  });
});

describe('rewrite and header operations', () => {
  it('rewrites the prefix and host, sets/adds/removes request and response headers', async () => {
    const s = await start(`${svcUpstream()}
routes:
  - name: rw
    match: { host: svc, path: { prefix: /old } }
    to: [{ upstream: svc, subset: v1 }]
    rewrite: { prefix: /v2/new, host: svc.internal }
    headers:
      request: { set: { x-env: prod }, add: { x-tag: pilotfish }, remove: [x-debug] }
      response: { set: { x-served-via: pilotfish }, remove: [x-upstream-only] }
`);
    const r = await request(s.ports.outbound, { path: '/old/items?q=1', headers: { host: 'svc', 'x-debug': '1', 'x-env': 'dev', 'x-tag': 'client' } });
    const seen = r.json();
    expect(seen.url).toBe('/v2/new/items?q=1');
    expect(seen.host).toBe('svc.internal');
    expect(seen.headers['x-forwarded-host']).toBe('svc');
    expect(seen.headers['x-env']).toBe('prod');
    expect(seen.headers['x-tag']).toBe('client, pilotfish');
    expect(seen.headers['x-debug']).toBeUndefined();
    expect(r.headers['x-served-via']).toBe('pilotfish');
    expect(r.headers['x-upstream-only']).toBeUndefined();
  });
});

describe('mirroring', () => {
  it('sends a copy with Host suffixed -shadow, never affects the primary, and compares answers', async () => {
    const outcomes: string[] = [];
    const events: ProxyEvents = { ...NO_EVENTS, mirror: (_route, outcome) => { outcomes.push(outcome); } };
    const s = await start(`${svcUpstream()}
  shadow: { endpoints: [{ address: "${ups.shadow!.address}" }] }
  dead: { endpoints: [{ address: "127.0.0.1:1" }] }
routes:
  - { name: m, match: { host: svc }, to: [{ upstream: svc, subset: v1 }], mirror: { upstream: shadow, percent: 100, compare: true } }
  - { name: d, match: { host: dead.svc }, to: [{ upstream: svc, subset: v1 }], mirror: { upstream: dead, percent: 100 } }
`, events);
    const before = ups.shadow!.seen.length;
    const r = await request(s.ports.outbound, { method: 'POST', path: '/m', headers: { host: 'svc:8080', 'content-type': 'text/plain' }, body: 'hello' });
    expect(r.status).toBe(200);
    await waitFor(() => ups.shadow!.seen.length === before + 1 && outcomes.length === 1, { what: 'the shadow request' });
    const shadowReq = ups.shadow!.seen.at(-1)!;
    expect(shadowReq.headers.host).toBe('svc-shadow:8080');
    expect(shadowReq.method).toBe('POST');
    // Different upstreams answer with their own names: the bodies differ, the statuses do not.
    expect(outcomes).toEqual(['body_mismatch']);
    // A dead mirror never touches the primary.
    const d = await request(s.ports.outbound, { headers: { host: 'dead.svc' } });
    expect(d.status).toBe(200);
    await waitFor(() => outcomes.length === 2, { what: 'the failed shadow' });
    expect(outcomes[1]).toBe('error');
  });
});

describe('no route', () => {
  it('allow-any forwards to the Host itself; inbound without a route goes to the app', async () => {
    const s = await start('outboundTrafficPolicy: allow-any\n', NO_EVENTS, `http://${ups.c!.address}`);
    const r = await request(s.ports.outbound, { headers: { host: ups.a1!.address } });
    expect(r.headers['x-served-by']).toBe('a1');
    const i = await request(s.ports.inbound, { headers: { host: 'anything' } });
    expect(i.headers['x-served-by']).toBe('c');
  });
});

describe('explain', () => {
  const policy = (): string => `${svcUpstream()}
routes:
  - { name: testers, match: { host: svc, headers: { x-canary: { exact: "true" } } }, priority: 10, to: [{ upstream: svc, subset: v2 }] }
  - name: main
    match: { host: svc, path: { prefix: / } }
    to: [{ upstream: svc, subset: v1, weight: 95 }, { upstream: svc, subset: v2, weight: 5 }]
    sticky: { header: x-user-id }
    retries: { attempts: 2 }
`;

  it('pilotfish explain prints every route considered, the winner, the split and the sticky pick', async () => {
    const file = await writePolicy(`version: 1\n${testListeners()}\n${policy()}`);
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'explain', file, '--url', 'http://svc/x', '-H', 'x-user-id: 42'], { cwd: ROOT });
    expect(stdout).toMatch(/no +testers .*header x-canary exact "true" ≠ \(absent\)/);
    expect(stdout).toMatch(/WINNER +main/);
    expect(stdout).toMatch(/95% svc\/v1: 2\/2 endpoints eligible/);
    expect(stdout).toMatch(/sticky: key "42" → bucket \d+ → svc\/v[12] → endpoint 127\.0\.0\.1:\d+/);
    expect(stdout).toMatch(/retries: .*"attempts":2/);
    const json = JSON.parse((await promisify(execFile)(process.execPath, [CLI, 'explain', file, '--url', 'http://svc/x', '-H', 'x-canary: true', '--json'], { cwd: ROOT })).stdout);
    expect(json.winner).toBe('testers');
    expect(json.considered.map((v: { outcome: string }) => v.outcome)).toEqual(['winner', 'matched']);
  });

  it('admin GET /explain answers on the live snapshot', async () => {
    const s = await start(policy());
    const r = await request(s.ports.admin, { path: `/explain?url=${encodeURIComponent('http://svc/a')}&header=${encodeURIComponent('x-user-id: 7')}` });
    expect(r.status).toBe(200);
    const x = r.json();
    expect(x.winner).toBe('main');
    expect(x.destination.sticky.key).toBe('7');
    // The same key through the data plane reaches the endpoint explain named.
    const served = await request(s.ports.outbound, { path: '/a', headers: { host: 'svc', 'x-user-id': '7' } });
    const want = Object.values(ups).find((u) => u.address === x.destination.sticky.endpoint);
    expect(served.headers['x-served-by']).toBe(Object.entries(ups).find(([, u]) => u === want)![0]);
    expect((await request(s.ports.admin, { path: '/explain?url=ftp://x' })).status).toBe(400);
  });
});
