/** The admin API through the real sidecar (SPEC §7). */
import { writeFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { Sidecar } from '../src/sidecar.js';
import { request, waitFor } from './helpers/http.js';
import { spawnSidecar, testListeners, writePolicy } from './helpers/sidecar.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

let up: Upstream;
const sidecars: Sidecar[] = [];
beforeAll(async () => { up = await startUpstream((_req, res) => res.end('ok')); });
afterAll(async () => { await up.close(); });
afterEach(async () => { for (const s of sidecars.splice(0)) await s.close(); });

const policy = (extra = ''): string => `version: 1
${testListeners()}
upstreams:
  web: { endpoints: [{ address: "${up.address}", labels: { version: v1 } }], subsets: { v1: { version: v1 } } }
routes:
  - { name: web, match: { host: web }, to: [{ upstream: web }] }
${extra}`;

async function start(text: string, adminToken?: string): Promise<{ s: Sidecar; file: string }> {
  const file = await writePolicy(text);
  const s = await Sidecar.start({ policyFile: file, log: createLogger('silent'), watch: false, adminToken });
  sidecars.push(s);
  return { s, file };
}

describe('admin API', () => {
  it('GET /config_dump shows the effective policy, generation, source and last error', async () => {
    const { s, file } = await start(policy());
    const dump = (await request(s.ports.admin, { path: '/config_dump' })).json();
    expect(dump).toMatchObject({ generation: 1, source: 'file', file, lastError: null, draining: false });
    expect(dump.policy.routes[0]).toMatchObject({ name: 'web', timeout: 15000, direction: 'outbound', priority: 0 });
    expect(dump.policy.upstreams.web.connectionPool).toEqual({ maxConnections: 1024, maxPendingRequests: 1024, connectTimeout: 5000, idleTimeout: 4000 });
    await writeFile(file, policy().replace('routes:', 'routes:\n  - { name: broken, to: [{ upstream: nowhere }] }'));
    const r = await request(s.ports.admin, { method: 'POST', path: '/reload' });
    expect(r.status).toBe(422);
    const after = (await request(s.ports.admin, { path: '/config_dump' })).json();
    expect(after.generation).toBe(1);
    expect(after.lastError.errors).toEqual([{ file, line: 11, col: 38, path: 'routes[0].to[0].upstream', message: 'unknown upstream "nowhere"' }]);
  });

  it('POST /reload applies a changed file and bumps the generation', async () => {
    const { s, file } = await start(policy());
    await writeFile(file, policy('# edited\n'));
    const r = await request(s.ports.admin, { method: 'POST', path: '/reload' });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ result: 'ok', generation: 2 });
    expect((await request(s.ports.admin, { method: 'POST', path: '/reload' })).json()).toEqual({ result: 'unchanged', generation: 2 });
  });

  it('GET /clusters lists upstreams, subsets and endpoints', async () => {
    const { s } = await start(policy());
    await request(s.ports.outbound, { headers: { host: 'web' } });
    const c = (await request(s.ports.admin, { path: '/clusters' })).json();
    const web = c.upstreams.find((u: { name: string }) => u.name === 'web');
    expect(web.subsets).toEqual({ v1: [up.address] });
    expect(web.endpoints).toEqual([expect.objectContaining({ address: up.address, labels: { version: 'v1' }, healthy: true, ejected: false })]);
    expect(c.upstreams.map((u: { name: string }) => u.name)).toContain('app');
  });

  it('mutations only by POST: a GET to a mutating path is 405; unknown paths 404', async () => {
    const { s } = await start(policy());
    const r = await request(s.ports.admin, { path: '/reload' });
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('POST');
    expect((await request(s.ports.admin, { path: '/drain' })).status).toBe(405);
    expect((await request(s.ports.admin, { method: 'POST', path: '/config_dump' })).status).toBe(405);
    expect((await request(s.ports.admin, { path: '/nope' })).status).toBe(404);
  });

  it('POST /drain begins the drain without exiting', async () => {
    const { s } = await start(policy());
    expect((await request(s.ports.telemetry, { path: '/healthz/ready' })).status).toBe(200);
    const r = await request(s.ports.admin, { method: 'POST', path: '/drain' });
    expect(r.status).toBe(202);
    await waitFor(async () => (await request(s.ports.telemetry, { path: '/healthz/ready' })).status === 503, { what: 'unready' });
    expect((await request(s.ports.telemetry, { path: '/healthz/live' })).status).toBe(200);
    expect((await request(s.ports.admin, { path: '/config_dump' })).json().draining).toBe(true);
  });

  it('requires the bearer token on every request when one is set', async () => {
    const { s } = await start(policy(), 's3cret');
    expect((await request(s.ports.admin, { path: '/config_dump' })).status).toBe(401);
    expect((await request(s.ports.admin, { path: '/config_dump', headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await request(s.ports.admin, { path: '/config_dump', headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
  });

  it('refuses to start with a non-loopback admin address and no token', async () => {
    const text = policy().replace('admin: { port: 0 }', 'admin: { port: 0, address: 0.0.0.0 }');
    await expect(start(text)).rejects.toThrow(/needs listeners.admin.token/);
    const { s } = await start(text.replace('address: 0.0.0.0 }', 'address: 0.0.0.0, token: tok }'));
    expect((await request(s.ports.admin, { path: '/config_dump', headers: { authorization: 'Bearer tok' } })).status).toBe(200);
  });
});

describe('SIGHUP', () => {
  it('reloads the policy in a running process', async () => {
    const other = await startUpstream((_req, res) => res.end('other'));
    const text = policy();
    const proc = await spawnSidecar(text);
    try {
      const file = (proc.child.spawnargs.at(-1))!;
      expect((await request(proc.ports.outbound, { headers: { host: 'web' } })).text).toBe('ok');
      // Edit without the watcher noticing in time is not guaranteed, so assert on SIGHUP's effect:
      await writeFile(file, text.replace(up.address, other.address));
      proc.child.kill('SIGHUP');
      await waitFor(async () => (await request(proc.ports.outbound, { headers: { host: 'web' } })).text === 'other', { what: 'the reloaded policy' });
      expect((await request(proc.ports.admin, { path: '/config_dump' })).json().generation).toBe(2);
    } finally {
      proc.child.kill('SIGKILL');
      await other.close();
    }
  });
});
