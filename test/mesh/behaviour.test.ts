/**
 * One behaviour suite, two modes (SPEC §10: "the same semantics as the sidecar's outbound path"):
 * every case runs against the real sidecar's outbound port and against `mesh.fetch`, with the same
 * policy and the same assertions — routing and rewrite, a 90/10 split, sticky keys, retries, a POST
 * never duplicated, the breaker, outlier ejection, 503 UH, 503 UO, faults, mirror, 404 NR and
 * allow-any passthrough.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { MODES, type Client, type Mode } from './modes.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const fn of cleanup.splice(0).reverse()) await fn(); });

async function upstream(handler?: http.RequestListener): Promise<Upstream> {
  const u = await startUpstream(handler);
  cleanup.push(() => u.close());
  return u;
}

async function start(mode: Mode, policy: string): Promise<Client> {
  const c = await mode.start(policy);
  cleanup.push(() => c.close());
  return c;
}

/** Answers `status` for the first `n` requests, then 200 `ok`. */
function failFirst(n: number, status = 503): http.RequestListener {
  let seen = 0;
  return (req, res) => {
    req.resume();
    req.on('end', () => { seen++; res.writeHead(seen <= n ? status : 200); res.end(seen <= n ? 'fail' : 'ok'); });
  };
}

/** Answers its own name. */
function named(name: string): http.RequestListener {
  return (req, res) => { req.resume(); res.end(name); };
}

const one = (u: Upstream, extra = ''): string => `{ endpoints: [{ address: "${u.address}" }]${extra} }`;
const fastRetries = 'backoff: { base: 1ms, max: 5ms }';

describe.each(MODES)('outbound behaviour: $name', (mode) => {
  it('routes by authority, rewrites the prefix and host, and applies header operations', async () => {
    const u = await upstream();
    const c = await start(mode, `upstreams: { u: ${one(u)} }
routes:
  - name: rw
    match: { host: svc, path: { prefix: /old } }
    to: [{ upstream: u }]
    rewrite: { prefix: /v2/new, host: svc.internal }
    headers:
      request: { set: { x-env: prod }, remove: [x-debug] }
      response: { set: { x-served-via: pilotfish } }
  - { name: other, match: { host: other.svc }, to: [{ upstream: u }] }
`);
    const r = await c.call('svc', '/old/items?q=1', { headers: { 'x-debug': '1', 'x-env': 'dev' } });
    expect(r.status).toBe(200);
    expect(r.headers['x-served-via']).toBe('pilotfish');
    const seen = JSON.parse(r.text) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/v2/new/items?q=1');
    expect(seen.headers.host).toBe('svc.internal');
    expect(seen.headers['x-forwarded-host']).toBe('svc');
    expect(seen.headers['x-env']).toBe('prod');
    expect(seen.headers['x-debug']).toBeUndefined();
    expect(seen.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse((await c.call('other.svc', '/p')).text).url).toBe('/p');
  });

  it('splits 90/10 by weight (600 requests, ±4.5σ)', async () => {
    const a = await upstream(named('a'));
    const b = await upstream(named('b'));
    const c = await start(mode, `upstreams: { a: ${one(a)}, b: ${one(b)} }
routes: [{ name: split, match: { host: svc }, to: [{ upstream: a, weight: 90 }, { upstream: b, weight: 10 }] }]
`);
    const n = 600;
    let toB = 0;
    for (let i = 0; i < n; i++) if ((await c.call('svc')).text === 'b') toB++;
    // Binomial(600, 0.1): mean 60, σ ≈ 7.3. A wrong split (50/50, or all to one side) is far outside.
    expect(toB).toBeGreaterThanOrEqual(27);
    expect(toB).toBeLessThanOrEqual(93);
  });

  it('keeps a sticky key on one endpoint', async () => {
    const ups = await Promise.all([0, 1, 2, 3].map((i) => upstream(named(`e${i}`))));
    const eps = ups.map((u) => `{ address: "${u.address}" }`).join(', ');
    const c = await start(mode, `upstreams: { u: { endpoints: [${eps}], loadBalancer: ring-hash } }
routes: [{ name: s, match: { host: svc }, to: [{ upstream: u }], sticky: { header: x-user } }]
`);
    const seenBy = new Map<string, Set<string>>();
    for (let round = 0; round < 3; round++) {
      for (let user = 0; user < 20; user++) {
        const r = await c.call('svc', '/', { headers: { 'x-user': `user-${user}` } });
        const set = seenBy.get(`user-${user}`) ?? new Set<string>();
        set.add(r.text);
        seenBy.set(`user-${user}`, set);
      }
    }
    for (const set of seenBy.values()) expect(set.size).toBe(1);
    // 20 keys over 4 endpoints: they do not all land on one (probability 4 × (1/4)^20).
    expect(new Set([...seenBy.values()].map((s) => [...s][0])).size).toBeGreaterThan(1);
  });

  it('retries 503s into a 200', async () => {
    const u = await upstream(failFirst(2));
    const c = await start(mode, `upstreams: { u: ${one(u)} }
routes: [{ name: r, match: { host: svc }, to: [{ upstream: u }], retries: { attempts: 3, retryOn: [5xx], ${fastRetries} } }]
`);
    const r = await c.call('svc');
    expect([r.status, r.text]).toEqual([200, 'ok']);
    expect(r.headers['x-pilotfish-flags']).toBeUndefined();
    expect(u.seen.length).toBe(3);
  });

  it('never duplicates a POST that reached the upstream', async () => {
    const u = await upstream(failFirst(100));
    const c = await start(mode, `upstreams: { u: ${one(u)} }
routes: [{ name: r, match: { host: svc }, to: [{ upstream: u }], retries: { attempts: 3, retryOn: [5xx], ${fastRetries} } }]
`);
    const r = await c.call('svc', '/orders', { method: 'POST', body: 'order=1' });
    expect(r.status).toBe(503);
    expect(u.seen.length).toBe(1);
  });

  it('opens the breaker: 503 CO with the sidecar\'s JSON answer, the upstream untouched', async () => {
    const u = await upstream((req, res) => { req.resume(); res.writeHead(500); res.end(); });
    const c = await start(mode, `upstreams: { u: ${one(u, ', circuitBreaker: { errorThresholdPercentage: 50, volumeThreshold: 5, rollingWindow: 10s, resetTimeout: 1m }')} }
routes: [{ name: r, match: { host: svc }, to: [{ upstream: u }] }]
`);
    for (let i = 0; i < 5; i++) expect((await c.call('svc')).status).toBe(500);
    const hits = u.seen.length;
    const open = await c.call('svc');
    expect(open.status).toBe(503);
    expect(open.headers['x-pilotfish-flags']).toBe('CO');
    expect(open.headers['content-type']).toBe('application/json');
    expect(JSON.parse(open.text)).toMatchObject({ flags: 'CO' });
    expect(u.seen.length).toBe(hits);
  });

  it('ejects an endpoint after consecutive 5xx', async () => {
    const good = await upstream(failFirst(0));
    const bad = await upstream((req, res) => { req.resume(); res.writeHead(500); res.end(); });
    const c = await start(mode, `upstreams: { u: { endpoints: [{ address: "${good.address}" }, { address: "${bad.address}" }], loadBalancer: round-robin, outlierDetection: { consecutive5xx: 3, interval: 10s, baseEjectionTime: 1m, maxEjectionPercent: 50 } } }
routes: [{ name: r, match: { host: svc }, to: [{ upstream: u }] }]
`);
    await waitFor(() => bad.seen.length >= 3 ? true : c.call('svc').then(() => false), { what: 'three 5xx from the bad endpoint' });
    const before = bad.seen.length;
    for (let i = 0; i < 20; i++) expect((await c.call('svc')).status).toBe(200);
    expect(bad.seen.length).toBe(before);
  });

  it('answers 503 UH when no endpoint is healthy', async () => {
    const u = await upstream((req, res) => { req.resume(); if (req.url === '/healthz') { res.writeHead(503); res.end(); return; } res.end('served'); });
    const c = await start(mode, `upstreams: { u: ${one(u, ', healthCheck: { path: /healthz, interval: 50ms, timeout: 200ms, unhealthyThreshold: 1, healthyThreshold: 1 }')} }
routes: [{ name: r, match: { host: svc }, to: [{ upstream: u }] }]
`);
    const down = await waitFor(async () => { const r = await c.call('svc'); return r.status === 503 ? r : undefined; }, { timeoutMs: 3000, what: 'UH' });
    expect(down.headers['x-pilotfish-flags']).toBe('UH');
    expect(JSON.parse(down.text)).toMatchObject({ flags: 'UH' });
  });

  it('answers 503 UO beyond the connection pool, and serves the held request', async () => {
    const held: http.ServerResponse[] = [];
    const u = await upstream((req, res) => { req.resume(); held.push(res); });
    const c = await start(mode, `upstreams: { u: ${one(u, ', connectionPool: { maxConnections: 1, maxPendingRequests: 0 }')} }
routes: [{ name: r, match: { host: svc }, to: [{ upstream: u }] }]
`);
    const first = c.call('svc');
    await waitFor(() => held.length === 1, { what: 'the first request upstream' });
    const second = await c.call('svc');
    expect(second.status).toBe(503);
    expect(second.headers['x-pilotfish-flags']).toBe('UO');
    held.shift()!.end('first');
    expect((await first).text).toBe('first');
  });

  it('injects the policy\'s faults', async () => {
    const u = await upstream();
    const c = await start(mode, `upstreams: { u: ${one(u)} }
routes:
  - { name: f, match: { host: faulty }, to: [{ upstream: u }], fault: { abort: { status: 418, percent: 100 } } }
  - { name: d, match: { host: slow }, to: [{ upstream: u }], fault: { delay: { fixed: 150ms, percent: 100 } } }
`);
    const r = await c.call('faulty');
    expect(r.status).toBe(418);
    expect(r.headers['x-pilotfish-flags']).toBe('FI');
    expect(u.seen.length).toBe(0);
    const t0 = performance.now();
    expect((await c.call('slow')).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('mirrors to a shadow upstream and answers from the primary', async () => {
    const primary = await upstream(named('primary'));
    const shadow = await upstream(named('shadow'));
    const c = await start(mode, `upstreams: { p: ${one(primary)}, shadow: ${one(shadow)} }
routes: [{ name: m, match: { host: svc }, to: [{ upstream: p }], mirror: { upstream: shadow, percent: 100 } }]
`);
    const r = await c.call('svc', '/mirrored');
    expect(r.text).toBe('primary');
    await waitFor(() => shadow.seen.length === 1, { what: 'the mirrored copy' });
    expect(shadow.seen[0]!.url).toBe('/mirrored');
  });

  it('answers 404 NR for a host no route names (registry-only), and passes it through under allow-any', async () => {
    const u = await upstream(named('direct'));
    const c = await start(mode, `upstreams: { u: ${one(u)} }\nroutes: [{ name: r, match: { host: svc }, to: [{ upstream: u }] }]\n`);
    const r = await c.call('unknown.svc');
    expect(r.status).toBe(404);
    expect(r.headers['x-pilotfish-flags']).toBe('NR');
    const open = await start(mode, `outboundTrafficPolicy: allow-any\nupstreams: { u: ${one(u)} }\nroutes: [{ name: r, match: { host: svc }, to: [{ upstream: u }] }]\n`);
    expect((await open.call(u.address)).text).toBe('direct');
  });
});
