/**
 * `sticky.cookie.shared: true` across two real sidecars on one fleet (SPEC §9): a session reaches
 * the same endpoint through either, chosen by least-request (not by a hash); when its endpoint
 * dies it is remapped once for the whole fleet (and stays there when the endpoint returns); it
 * expires with the ttl; with Redis down, consistent hashing keeps it on one endpoint.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { fleetKeys } from '../../src/fleet/keys.js';
import { request, waitFor } from '../helpers/http.js';
import { adminJson, publish, spawnFleet } from '../helpers/fleet.js';
import { redisLink, startRedis } from '../helpers/redis.js';
import { testListeners } from '../helpers/sidecar.js';
import { REDIS_SERVER, needs } from '../helpers/system.js';
import type { SidecarProcess } from '../helpers/sidecar.js';

const req = needs(REDIS_SERVER);
const TTL_MS = 3000;

/** An endpoint answering `x-endpoint: <its address>`, with a health path; it can die and return on its port. */
class Endpoint {
  private server: http.Server | undefined;
  port = 0;
  get address(): string { return `127.0.0.1:${this.port}`; }
  async start(): Promise<void> {
    this.server = http.createServer((rq, rs) => { rq.resume(); rs.writeHead(200, { 'x-endpoint': this.address }); rs.end(); });
    this.server.listen(this.port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }
  async stop(): Promise<void> {
    const s = this.server!;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

const policy = (endpoints: readonly Endpoint[]): string => `version: 1
${testListeners()}upstreams:
  web:
    endpoints: [${endpoints.map((e) => `{ address: "${e.address}" }`).join(', ')}]
    loadBalancer: least-request
    # Quick to see a dead endpoint (refused at once), but no flapping on a slow machine.
    healthCheck: { path: /healthz, interval: 200ms, timeout: 2s, unhealthyThreshold: 2, healthyThreshold: 1 }
routes:
  - name: web
    match: { host: web }
    to: [{ upstream: web }]
    sticky: { cookie: { name: sid, ttl: ${TTL_MS}ms, shared: true } }
    timeout: 2s
`;

/** The endpoint a session reaches through a sidecar (a new session when `sid` is undefined). */
async function visit(s: SidecarProcess, sid?: string): Promise<{ endpoint: string; sid: string }> {
  const r = await request(s.ports.outbound, { headers: { host: 'web', ...(sid ? { cookie: `sid=${sid}` } : {}) } });
  expect(r.status).toBe(200);
  const set = r.headers['set-cookie']?.[0];
  return { endpoint: String(r.headers['x-endpoint']), sid: sid ?? /^sid=([^;]+)/.exec(set ?? '')![1]! };
}

/** The consistent-hash choice for a session, as the sidecar explains it (what serves with Redis down). */
async function hashChoice(s: SidecarProcess, sid: string): Promise<string> {
  const e = await adminJson(s, `/explain?url=${encodeURIComponent('http://web/')}&header=${encodeURIComponent(`cookie: sid=${sid}`)}`);
  return e.destination.sticky.endpoint as string;
}

async function setup(key: string) {
  const redis = await startRedis();
  const endpoints = Array.from({ length: 4 }, () => new Endpoint());
  for (const e of endpoints) await e.start();
  const text = policy(endpoints);
  const [a, b] = await spawnFleet(2, text, redis.url, key);
  await publish(redis.url, key, text);
  for (const s of [a!, b!]) await waitFor(async () => (await adminJson(s, '/config_dump')).source === 'fleet', { what: 'the fleet policy' });
  return { redis, endpoints, a: a!, b: b! };
}

describe.skipIf(!req.ok)(`shared sticky sessions${req.label}`, () => {
  it('one endpoint per session through either sidecar, chosen by least-request; remapped once fleet-wide when it dies', async () => {
    const { endpoints, a, b } = await setup('sessions');
    const sessions = [];
    for (let i = 0; i < 40; i++) sessions.push(await visit(a));
    for (const s of sessions) expect((await visit(b, s.sid)).endpoint).toBe(s.endpoint);
    // Not a hash: least-request spreads new sessions regardless of their keys, so only about a
    // quarter land where the ring would put them (P(≥ 24 of 40 at p = 1/4) < 1e-6).
    let hashed = 0;
    for (const s of sessions) if ((await hashChoice(a, s.sid)) === s.endpoint) hashed++;
    expect(hashed).toBeLessThan(24);

    const dead = endpoints[0]!;
    const onDead = sessions.filter((s) => s.endpoint === dead.address);
    expect(onDead.length).toBeGreaterThan(0);
    await dead.stop();
    for (const s of [a, b]) {
      await waitFor(async () => (await adminJson(s, '/clusters')).upstreams.find((u: { name: string }) => u.name === 'web')
        .endpoints.find((e: { address: string }) => e.address === dead.address).healthy === false, { what: 'the dead endpoint to be seen' });
    }
    // Half the moved sessions arrive through a, half through b: each is remapped once, and the
    // other sidecar follows the remap instead of choosing on its own.
    const moved = new Map<string, string>();
    for (const [i, s] of onDead.entries()) {
      const first = await visit(i % 2 === 0 ? a : b, s.sid);
      expect(first.endpoint).not.toBe(dead.address);
      moved.set(s.sid, first.endpoint);
    }
    for (const s of onDead) {
      expect((await visit(a, s.sid)).endpoint).toBe(moved.get(s.sid));
      expect((await visit(b, s.sid)).endpoint).toBe(moved.get(s.sid));
    }
    // The others never moved; and when the endpoint returns, the moved sessions stay where they are.
    for (const s of sessions.filter((x) => x.endpoint !== dead.address)) expect((await visit(b, s.sid)).endpoint).toBe(s.endpoint);
    await dead.start();
    await waitFor(async () => (await adminJson(a, '/clusters')).upstreams.find((u: { name: string }) => u.name === 'web')
      .endpoints.every((e: { healthy: boolean }) => e.healthy), { what: 'the endpoint back' });
    for (const s of onDead) expect((await visit(a, s.sid)).endpoint).toBe(moved.get(s.sid));
  }, 40_000);

  it('sessions expire with the ttl (a session in use keeps extending it)', async () => {
    const { redis, a, b } = await setup('expiry');
    const link = await redisLink(redis.url);
    const prefix = fleetKeys('expiry').sessionPrefix;
    const keys = async (): Promise<string[]> => (await link.command('KEYS', `${prefix}*`)) as string[];
    const idle = await visit(a);
    const busy = await visit(a);
    expect((await keys()).length).toBe(2);
    // Keep one session busy across more than a ttl, through both sidecars.
    const until = performance.now() + TTL_MS * 1.5;
    while (performance.now() < until) {
      expect((await visit(performance.now() % 2 < 1 ? a : b, busy.sid)).endpoint).toBe(busy.endpoint);
      await new Promise((r) => setTimeout(r, TTL_MS / 6));
    }
    const left = await waitFor(async () => { const k = await keys(); return k.length === 1 ? k : undefined; }, { timeoutMs: TTL_MS * 2, what: 'the idle session to expire' });
    expect(left[0]).toContain(busy.sid);
    expect(left[0]).not.toContain(idle.sid);
  }, 30_000);

  it('with Redis down, consistent hashing keeps a session on one endpoint through every sidecar', async () => {
    const { redis, a, b } = await setup('down');
    await redis.kill();
    for (const s of [a, b]) await waitFor(async () => (await adminJson(s, '/config_dump')).fleet.connected === false, { what: 'disconnected' });
    for (let i = 0; i < 20; i++) {
      const sid = `offline-session-${i}`;
      const via = [await visit(a, sid), await visit(b, sid), await visit(a, sid)];
      expect(new Set(via.map((v) => v.endpoint)).size).toBe(1);
      expect(via[0]!.endpoint).toBe(await hashChoice(b, sid));
    }
  }, 30_000);
});
