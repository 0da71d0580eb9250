/**
 * Local rate limits through the real sidecar (SPEC §5 "Rate limits"): the admitted rate under an
 * open-loop load at three times the limit, 429 `RL` answers with `retry-after` and the RateLimit
 * fields, per-key isolation (a header, the source address), a refused request never reaching an
 * upstream nor counting against it, buckets surviving a reload, and the metric.
 */
import http from 'node:http';
import { writeFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { Sidecar } from '../src/sidecar.js';
import { Telemetry } from '../src/telemetry/index.js';
import { request, waitFor, type Reply } from './helpers/http.js';
import { testListeners, writePolicy } from './helpers/sidecar.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

let up: Upstream;
let shadow: Upstream;

const cleanup: Array<() => Promise<void> | void> = [];
beforeAll(async () => {
  up = await startUpstream((req, res) => { req.resume(); res.end('ok'); });
  shadow = await startUpstream((req, res) => { req.resume(); res.end('shadow'); });
});
afterAll(async () => { await up.close(); await shadow.close(); });
afterEach(async () => { for (const fn of cleanup.splice(0).reverse()) await fn(); up.seen.length = 0; shadow.seen.length = 0; });

const policy = (route: string, extra = ''): string => `version: 1
${testListeners()}
upstreams:
  u:
    endpoints: [{ address: "${up.address}" }]
    outlierDetection: { consecutive5xx: 1, consecutiveGatewayErrors: 1 }
    circuitBreaker: { volumeThreshold: 1, errorThresholdPercentage: 1 }
  shadow: { endpoints: [{ address: "${shadow.address}" }] }
routes:
  - name: api
    match: { host: api }
    to: [{ upstream: u }]
${route}
${extra}`;

async function start(text: string): Promise<{ s: Sidecar; file: string; telemetry: Telemetry }> {
  const file = await writePolicy(text);
  const telemetry = await Telemetry.create({ accessLog: { enabled: false } });
  const s = await Sidecar.start({ policyFile: file, log: createLogger('silent'), watch: false, telemetry });
  cleanup.push(async () => { await s.close(); await telemetry.shutdown(); });
  return { s, file, telemetry };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
afterAll(() => agent.destroy());
const get = (s: Sidecar, headers: http.OutgoingHttpHeaders = {}): Promise<Reply> => request(s.ports.outbound, { headers: { host: 'api', ...headers }, agent });

async function metric(t: Telemetry, name: string, labels: Record<string, string> = {}): Promise<number> {
  let sum = 0;
  for (const line of (await t.metrics.registry.metrics()).split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('local rate limits', { timeout: 60_000 }, () => {
  it('100/s with burst 20: 1,000 requests at 300/s admit the limit (±10%), the rest are 429 RL with retry-after', async () => {
    const { s, telemetry } = await start(policy('    rateLimit: { requests: 100, per: 1s, burst: 20 }'));
    // When each request reached the sidecar and what it was answered, from the sidecar's own observer.
    const seen: Array<[at: number, status: number]> = [];
    const end = telemetry.end.bind(telemetry);
    telemetry.end = (ctx, done) => { seen.push([ctx.start, done.status]); end(ctx, done); };
    const pending: Array<Promise<Reply>> = [];
    const t0 = performance.now();
    // Open loop: request i leaves at t0 + i × 3.33 ms whatever the answers do.
    for (let i = 0; i < 1000; i++) {
      const at = t0 + (i * 1000) / 300;
      if (at > performance.now()) await new Promise((r) => setTimeout(r, at - performance.now()));
      pending.push(get(s));
    }
    const replies = await Promise.all(pending);
    const ok = replies.filter((r) => r.status === 200).length;
    const limited = replies.filter((r) => r.status === 429);
    expect(ok + limited.length).toBe(1000);
    for (const r of limited) {
      expect(r.headers['x-pilotfish-flags']).toBe('RL');
      expect(r.headers['retry-after']).toBe('1');
      expect(r.headers['ratelimit-policy']).toBe('"api";q=100;w=1;pilotfish-burst=20');
      expect(r.headers.ratelimit).toBe('"api";r=0;t=1');
      expect(r.json()).toEqual({ error: 'rate limit of route api exceeded', flags: 'RL' });
    }
    expect(up.seen.length).toBe(ok);
    expect(await metric(telemetry, 'pilotfish_rate_limited_total', { route: 'api' })).toBe(limited.length);
    expect(await metric(telemetry, 'pilotfish_requests_total', { route: 'api', code: '429', flags: 'RL' })).toBe(limited.length);

    // What an exact bucket admits at the sidecar's arrival times: the sidecar admits the same (±3, for
    // decisions on the edge: the limiter reads its clock a little after arrival).
    const arrivals = seen.map(([at]) => at).sort((x, y) => x - y);
    let tat = 0;
    let ideal = 0;
    for (const at of arrivals) { const start = Math.max(tat, at); if (start - at <= 190 + 1e-9) { tat = start + 10; ideal++; } }
    expect(Math.abs(ok - ideal)).toBeLessThanOrEqual(3);
    // The admitted rate beyond the burst, over the load: never above the limit + 10 %, and within
    // 10 % of it whenever the offered load kept above the limit (the exact bucket above admits that
    // much too). A starved test machine can pause the sender longer than the bucket's 200 ms refill
    // time, and then an exact bucket admits less; the exact check above still holds.
    const span = (arrivals[arrivals.length - 1]! - arrivals[0]!) / 1000;
    const rate = (ok - 20) / span;
    const idealRate = (ideal - 20) / span;
    expect(rate).toBeLessThan(110);
    if (idealRate >= 91) expect(rate).toBeGreaterThan(90);
    else console.log(`rate-limit test: the offered load sagged below the limit (busy machine): an exact bucket admits ${idealRate.toFixed(1)}/s, the sidecar ${rate.toFixed(1)}/s`);
  });

  it('a bucket per header value isolates two clients; requests without the header share one bucket', async () => {
    const { s } = await start(policy('    rateLimit: { requests: 1, per: 1m, burst: 3, key: x-client }'));
    const a = await Promise.all(Array.from({ length: 10 }, () => get(s, { 'x-client': 'alice' })));
    expect(a.filter((r) => r.status === 200)).toHaveLength(3);
    const b = await Promise.all(Array.from({ length: 3 }, () => get(s, { 'x-client': 'bob' })));
    expect(b.map((r) => r.status)).toEqual([200, 200, 200]);
    const anon = await Promise.all(Array.from({ length: 5 }, () => get(s)));
    expect(anon.filter((r) => r.status === 200)).toHaveLength(3);
  });

  it('a bucket per source address isolates clients on different addresses', async () => {
    const { s } = await start(policy('    rateLimit: { requests: 1, per: 1m, burst: 2, key: sourceIp }'));
    const from = (localAddress: string): Promise<number> => new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: s.ports.outbound, localAddress, headers: { host: 'api' }, agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.end();
    });
    const first = [await from('127.0.0.2'), await from('127.0.0.2'), await from('127.0.0.2')];
    expect(first).toEqual([200, 200, 429]);
    expect([await from('127.0.0.3'), await from('127.0.0.3')]).toEqual([200, 200]);
  });

  it('a refused request reaches no upstream and counts against none: no mirror, no retry, no breaker or outlier', async () => {
    const { s, telemetry } = await start(policy(`    rateLimit: { requests: 1, per: 1m, burst: 2 }
    retries: { attempts: 3, retryOn: [429, 5xx], backoff: { base: 1ms, max: 2ms } }
    mirror: { upstream: shadow, percent: 100 }`));
    const replies = [];
    for (let i = 0; i < 20; i++) replies.push(await get(s));
    expect(replies.map((r) => r.status)).toEqual([200, 200, ...Array(18).fill(429)]);
    expect(replies.slice(2).every((r) => r.headers['x-pilotfish-flags'] === 'RL')).toBe(true);
    await waitFor(() => shadow.seen.length === 2, { what: 'two mirrored copies' });
    expect(up.seen.length).toBe(2);
    expect(await metric(telemetry, 'pilotfish_retries_total')).toBe(0);
    expect(await metric(telemetry, 'pilotfish_upstream_attempts_total', { upstream: 'u' })).toBe(2);
    const c = (await request(s.ports.admin, { path: '/clusters' })).json();
    const u = c.upstreams.find((x: { name: string }) => x.name === 'u');
    expect(u.circuitBreakers).toEqual({ '(all)': 'closed' });
    expect(u.endpoints[0].ejected).toBe(false);
    expect(shadow.seen.length).toBe(2);
  });

  it('buckets survive a reload that leaves the limit as it was; a changed limit starts afresh', async () => {
    const route = '    rateLimit: { requests: 1, per: 1m, burst: 2 }';
    const { s, file } = await start(policy(route));
    expect([(await get(s)).status, (await get(s)).status, (await get(s)).status]).toEqual([200, 200, 429]);
    await writeFile(file, policy(route, '# edited\n'));
    expect((await request(s.ports.admin, { method: 'POST', path: '/reload' })).json().result).toBe('ok');
    expect((await get(s)).status).toBe(429);
    await writeFile(file, policy(route.replace('burst: 2', 'burst: 3')));
    expect((await request(s.ports.admin, { method: 'POST', path: '/reload' })).json().result).toBe('ok');
    expect((await get(s)).status).toBe(200);
  });

  it('explain shows the limit, the request\'s bucket and what is left in it', async () => {
    const { s } = await start(policy('    rateLimit: { requests: 10, per: 1s, burst: 5, key: x-client }'));
    await get(s, { 'x-client': 'alice' });
    const x = (await request(s.ports.admin, { path: '/explain?url=http://api/&header=x-client:alice' })).json();
    expect(x.rateLimit).toMatchObject({ requests: 10, per: 1000, burst: 5, scope: 'local', bucket: 'header x-client', key: 'alice', keys: 1, maxKeys: 10_000 });
    expect(x.rateLimit.remaining).toBeGreaterThanOrEqual(4);
    expect(x.policy.rateLimit).toEqual({ requests: 10, per: 1000, burst: 5, key: 'x-client', scope: 'local', maxKeys: 10_000 });
  });

  it('routes without a rate limit are not limited', async () => {
    const { s } = await start(policy(''));
    const r = await Promise.all(Array.from({ length: 200 }, () => get(s)));
    expect(r.every((x) => x.status === 200 && x.headers['ratelimit'] === undefined)).toBe(true);
  });
});
