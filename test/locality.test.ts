/**
 * Locality-aware load balancing through the real sidecar (SPEC §5 "Locality"): three zones in two
 * regions — r1/a, r1/b, r2/c — two fake endpoints each, and a sidecar in r1/a. Endpoints are taken
 * out by their active health checks (their /healthz answers 503 at once), as in production; the
 * probe timeout is long so a slow probe of a healthy endpoint on a busy machine never fails it.
 */
import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { Sidecar, type SidecarOptions } from '../src/sidecar.js';
import { request, waitFor } from './helpers/http.js';
import { spawnSidecar, testListeners, writePolicy } from './helpers/sidecar.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

interface Zone { region: string; zone: string; up: Upstream[]; down: Set<number> }
const zones: Record<string, Zone> = {};
const sidecars: Sidecar[] = [];
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

beforeAll(async () => {
  for (const [region, zone] of [['r1', 'a'], ['r1', 'b'], ['r2', 'c']] as const) {
    const z: Zone = { region, zone, up: [], down: new Set() };
    for (let i = 0; i < 2; i++) {
      z.up.push(await startUpstream((req, res) => {
        req.resume();
        if (req.url === '/healthz') { res.writeHead(z.down.has(i) ? 503 : 200); res.end(); return; }
        res.writeHead(200, { 'x-zone': zone, 'x-endpoint': `${zone}${i}` });
        res.end();
      }));
    }
    zones[zone] = z;
  }
});
afterAll(async () => { agent.destroy(); for (const z of Object.values(zones)) for (const u of z.up) await u.close(); });
afterEach(async () => {
  for (const s of sidecars.splice(0)) await s.close();
  for (const z of Object.values(zones)) z.down.clear();
});

const endpoints = (): string => Object.values(zones).flatMap((z) => z.up.map((u) => `{ address: "${u.address}", labels: { region: ${z.region}, zone: ${z.zone} } }`)).join(', ');

const policy = (opts: { self?: string; balancer?: string; sticky?: string } = {}): string => `version: 1
${testListeners()}
${opts.self ?? 'locality: { region: r1, zone: a }'}
upstreams:
  svc:
    endpoints: [${endpoints()}]
    loadBalancer: ${opts.balancer ?? 'least-request'}
    locality: { failover: [r2] }
    healthCheck: { path: /healthz, interval: 50ms, timeout: 5s, unhealthyThreshold: 1, healthyThreshold: 1 }
routes:
  - name: svc
    match: { host: svc }
    to: [{ upstream: svc }]
${opts.sticky ?? ''}`;

async function start(text: string, extra: Partial<SidecarOptions> = {}): Promise<Sidecar> {
  const s = await Sidecar.start({ policyFile: await writePolicy(text), log: createLogger('silent'), watch: false, ...extra });
  sidecars.push(s);
  return s;
}

/** Sends `n` requests, 16 at a time, and returns the share of answers from each zone. */
async function spread(s: Sidecar, n = 1000, headers: http.OutgoingHttpHeaders = {}): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      const r = await request(s.ports.outbound, { headers: { host: 'svc', ...headers }, agent });
      expect(r.status).toBe(200);
      const zone = String(r.headers['x-zone']);
      counts[zone] = (counts[zone] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return Object.fromEntries(Object.entries(counts).map(([z, c]) => [z, c / n]));
}

interface TierJson { tier: string; endpoints: string[]; eligible: string[]; share: number }
async function tiers(s: Sidecar): Promise<TierJson[]> {
  const c = (await request(s.ports.admin, { path: '/clusters' })).json();
  return c.upstreams.find((u: { name: string }) => u.name === 'svc').locality.tiers;
}

/** Marks endpoints down (their /healthz fails) and waits until the sidecar's tiers show the shares. */
async function degrade(s: Sidecar, down: Record<string, number[]>, shares: number[]): Promise<void> {
  for (const z of Object.values(zones)) z.down = new Set(down[z.zone] ?? []);
  await waitFor(async () => JSON.stringify((await tiers(s)).map((t) => t.share)) === JSON.stringify(shares), { what: `tier shares ${shares}` });
}

// Thousands of requests per test through a real sidecar: generous on a busy machine.
describe('locality-aware load balancing', { timeout: 60_000 }, () => {
  it('keeps ≥ 99% of 1,000 requests in the sidecar\'s own zone while it is healthy; /clusters shows the tiers', async () => {
    const s = await start(policy());
    const t = await tiers(s);
    expect(t.map((x) => [x.tier, x.endpoints.length, x.share])).toEqual([['zone a', 2, 100], ['region r1', 2, 0], ['failover r2', 2, 0], ['any', 0, 0]]);
    const share = await spread(s);
    expect(share.a).toBeGreaterThanOrEqual(0.99);
  });

  it('half of zone a unhealthy: ~70% stays local, the rest goes to the same region first', async () => {
    const s = await start(policy());
    await degrade(s, { a: [0] }, [70, 30, 0, 0]);
    const share = await spread(s, 600); // binomial sd 1.9 points: ± 7 is 3.7 sd
    expect(share.a).toBeGreaterThan(0.63);
    expect(share.a).toBeLessThan(0.77);
    expect(share.b).toBeCloseTo(1 - share.a!, 5); // the region, not the failover region
    expect(share.c ?? 0).toBe(0);
  });

  it('zone a down → its region; the region down too → the failover region; recovery brings traffic home', async () => {
    const s = await start(policy());
    await degrade(s, { a: [0, 1] }, [0, 100, 0, 0]);
    expect(await spread(s, 300)).toEqual({ b: 1 });
    await degrade(s, { a: [0, 1], b: [0] }, [0, 70, 30, 0]);
    const partial = await spread(s, 600);
    expect(partial.b).toBeGreaterThan(0.63);
    expect(partial.b).toBeLessThan(0.77);
    expect(partial.c).toBeCloseTo(1 - partial.b!, 5);
    await degrade(s, { a: [0, 1], b: [0, 1] }, [0, 0, 100, 0]);
    expect(await spread(s, 300)).toEqual({ c: 1 });
    await degrade(s, {}, [100, 0, 0, 0]);
    expect((await spread(s)).a).toBeGreaterThanOrEqual(0.99);
  });

  it('every zone down: 503 UH, as without locality', async () => {
    const s = await start(policy());
    await degrade(s, { a: [0, 1], b: [0, 1], c: [0, 1] }, [0, 0, 0, 0]);
    const r = await request(s.ports.outbound, { headers: { host: 'svc' } });
    expect([r.status, r.headers['x-pilotfish-flags']]).toEqual([503, 'UH']);
  });

  it('sticky keys keep their endpoint and tier; when zone a thins, keys move to the region and come back', async () => {
    const s = await start(policy({ balancer: 'ring-hash', sticky: '    sticky: { header: x-user }' }));
    const users = Array.from({ length: 60 }, (_, i) => `user-${i}`);
    const where = async (): Promise<string[]> => Promise.all(users.map(async (u) => {
      const r = await request(s.ports.outbound, { headers: { host: 'svc', 'x-user': u }, agent });
      return String(r.headers['x-endpoint']);
    }));
    const home = await where();
    expect(new Set(home.map((e) => e[0]))).toEqual(new Set(['a']));
    expect(await where()).toEqual(home); // stable
    await degrade(s, { a: [1] }, [70, 30, 0, 0]);
    const thinned = await where();
    // Keys on a0 keep a0 unless their locality bucket is in the top 30 %; a1's keys all move.
    thinned.forEach((e, i) => { if (home[i] === 'a1') expect(e).not.toBe('a1'); });
    expect(thinned.filter((e) => e[0] === 'b').length).toBeGreaterThan(5);
    expect(thinned.some((e) => e[0] === 'c')).toBe(false);
    await degrade(s, {}, [100, 0, 0, 0]);
    expect(await where()).toEqual(home); // the same endpoints again
  });

  it('explain shows the tiers, their shares and a sticky key\'s tier', async () => {
    const s = await start(policy({ balancer: 'maglev', sticky: '    sticky: { header: x-user }' }));
    await degrade(s, { a: [0] }, [70, 30, 0, 0]);
    const x = (await request(s.ports.admin, { path: '/explain?url=http://svc/&header=x-user:alice' })).json();
    const d = x.destination.split[0];
    expect(d.locality.self).toBe('r1/a');
    expect(d.locality.tiers.map((t: TierJson) => [t.tier, t.share])).toEqual([['zone a', 70], ['region r1', 30], ['failover r2', 0], ['any', 0]]);
    // The key's tier and endpoint are the ones a request with that key reaches.
    const { tier, endpoint } = x.destination.sticky;
    expect(['zone a', 'region r1']).toContain(tier);
    const r = await request(s.ports.outbound, { headers: { host: 'svc', 'x-user': 'alice' } });
    const want = Object.values(zones).flatMap((z) => z.up.map((u, i) => [u.address, `${z.zone}${i}`] as const)).find(([a]) => a === endpoint)![1];
    expect(r.headers['x-endpoint']).toBe(want);
    expect(tier).toBe(want[0] === 'a' ? 'zone a' : 'region r1');
  });

  it('without its own locality the sidecar balances over every endpoint (one tier)', async () => {
    const s = await start(policy({ self: '', balancer: 'round-robin' }));
    expect((await tiers(s)).map((t) => [t.tier, t.endpoints.length])).toEqual([['any', 6]]);
    const share = await spread(s, 300);
    for (const z of ['a', 'b', 'c']) expect(share[z]).toBeCloseTo(1 / 3, 1); // round-robin: exact thirds
  });

  it('the SidecarOptions locality (PILOTFISH_LOCALITY) overrides the policy\'s', async () => {
    const s = await start(policy(), { locality: { region: 'r1', zone: 'b' } });
    expect((await tiers(s))[0]!.tier).toBe('zone b');
    expect((await spread(s, 200)).b).toBeGreaterThanOrEqual(0.99);
    const dump = (await request(s.ports.admin, { path: '/config_dump' })).json();
    expect(dump.locality).toEqual({ region: 'r1', zone: 'b', source: 'env' });
  });
});

describe('PILOTFISH_LOCALITY in a real process', { timeout: 60_000 }, () => {
  it('places the sidecar; a malformed value is a usage error', async () => {
    const p = await spawnSidecar(policy(), [], { PILOTFISH_LOCALITY: 'r2/c' });
    try {
      const c = (await request(p.ports.admin, { path: '/clusters' })).json();
      expect(c.upstreams.find((u: { name: string }) => u.name === 'svc').locality.self).toEqual({ region: 'r2', zone: 'c' });
      const r = await request(p.ports.outbound, { headers: { host: 'svc' } });
      expect(r.headers['x-zone']).toBe('c');
    } finally {
      p.child.kill('SIGTERM');
      await p.exited;
    }
    const bad = await spawnSidecar(policy(), [], { PILOTFISH_LOCALITY: 'a/b/c' }).catch((err: Error) => err);
    expect(bad).toBeInstanceOf(Error);
  });
});
