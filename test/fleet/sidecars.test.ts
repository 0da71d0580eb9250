/**
 * SPEC §9 end to end: real `pilotfish run --fleet` processes on a real redis-server — publish
 * reaches every sidecar, a partitioned one catches up, Redis dying under load costs nothing, an
 * invalid generation is refused everywhere, a store restarted empty reverts nothing.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ToxicProxy } from '../../src/chaos/toxic-proxy.js';
import { fleetCommand, publishCommand, readStatus, type FleetStatus } from '../../src/fleet/commands/index.js';
import { FleetStore } from '../../src/fleet/store.js';
import { request, waitFor } from '../helpers/http.js';
import { adminJson, colorPolicy, colorThrough, colorUpstream, metric, publish, spawnFleet, steadyLoad, tracked, waitColor } from '../helpers/fleet.js';
import { redisLink, startRedis, useRedis } from '../helpers/redis.js';
import { REDIS_SERVER, needs } from '../helpers/system.js';
import { writeLeafDir } from '../helpers/certs.js';
import { createCa } from '../../src/identity/mint.js';
import type { Upstream } from '../helpers/upstream.js';
import { CLI, spawnSidecar, writePolicy } from '../helpers/sidecar.js';

const req = needs(REDIS_SERVER);

async function colors(): Promise<Record<string, Upstream>> {
  const [blue, green] = await Promise.all([colorUpstream('blue'), colorUpstream('green')]);
  return { blue, green };
}

async function status(url: string, key: string): Promise<FleetStatus> {
  return readStatus(new FleetStore(await redisLink(url), key));
}

describe.skipIf(!req.ok)(`a fleet of sidecars${req.label}`, () => {
  const redis = useRedis();

  it('publish → every sidecar of five serves the new generation; fleet status says so', async () => {
    const up = await colors();
    const sidecars = await spawnFleet(5, colorPolicy('blue', up), redis.url, 'five');
    await waitColor(sidecars, 'blue');
    const gen = await publish(redis.url, 'five', colorPolicy('green', up), 'to green');
    // The property is that every sidecar converges; how fast is bench:fleet's to measure (a wall-clock
    // bound here failed at load averages of 30 and more with nothing wrong).
    await waitColor(sidecars, 'green', 20_000);
    for (const s of sidecars) {
      const dump = await adminJson(s, '/config_dump');
      expect(dump).toMatchObject({ source: 'fleet', fleet: { key: 'five', generation: gen, connected: true, url: `redis://127.0.0.1:${redis.server.port}` }, lastError: null });
      expect(await metric(s, 'pilotfish_fleet_generation')).toBe(gen);
      expect(await metric(s, 'pilotfish_fleet_connected')).toBe(1);
    }
    const st = await waitFor(async () => { const x = await status(redis.url, 'five'); return x.converged && x.sidecars.length === 5 ? x : undefined; }, { what: 'five sidecars reporting generation 1' });
    expect(st.sidecars.map((s) => s.generation)).toEqual([gen, gen, gen, gen, gen]);
    // Each report's hash is the served text's sha256: the generation's own hash.
    expect(st.sidecars.map((s) => s.hash)).toEqual(Array(5).fill(st.published!.hash));
    expect(new Set(st.sidecars.map((s) => s.address)).size).toBe(5);
    // The real command's exit code is what a script waits on.
    let out = '';
    const code = await fleetCommand(['status', '--fleet', redis.url, '--fleet-key', 'five', '--wait', '2s'], { stdout: (t) => { out += t; }, stderr: (t) => { out += t; }, readStdin: async () => '' });
    expect(code, out).toBe(0);
    expect(out).toMatch(/sidecars: 5 live, 5 serving generation 1/);
  }, 40_000);

  it('an invalid generation written straight into Redis is refused everywhere, reported, and the next good one applies', async () => {
    const up = await colors();
    const sidecars = await spawnFleet(2, colorPolicy('blue', up), redis.url, 'invalid');
    await publish(redis.url, 'invalid', colorPolicy('green', up));
    await waitColor(sidecars, 'green');
    // Around `publish`: generation 2 names an upstream that does not exist (its data too), pushed
    // whole as publish pushes; generation 3 is not even JSON, announced, so sidecars read it.
    const link = await redisLink(redis.url);
    const k = new FleetStore(link, 'invalid').keys;
    const head = await new FleetStore(link, 'invalid').head();
    const bad = colorPolicy('green', up).replace('to: [{ upstream: green }]', 'to: [{ upstream: purple }]');
    const doc = JSON.stringify({ generation: 2, epoch: head.epoch, hash: 'x', policy: bad, data: parseYaml(bad), publishedBy: 'someone', publishedAt: new Date().toISOString(), message: 'hand-written', rollbackOf: null });
    await link.command('SET', k.generation, 2);
    await link.command('SET', k.current, doc);
    await link.command('PUBLISH', k.events, doc);
    for (const s of sidecars) {
      const dump = await waitFor(async () => { const d = await adminJson(s, '/config_dump'); return d.lastError && d; }, { what: 'lastError' });
      expect(dump.lastError).toMatchObject({ trigger: 'fleet', source: 'fleet', generation: 2 });
      expect(dump.lastError.errors).toEqual([expect.objectContaining({ file: 'fleet:invalid@2', path: 'routes[0].to[0].upstream', message: 'unknown upstream "purple"' })]);
      expect(dump.lastError.errors[0].line).toBeGreaterThan(1);
      expect(dump).toMatchObject({ source: 'fleet', fleet: { generation: 1, lastError: { generation: 2 } } });
      expect(await metric(s, 'pilotfish_config_reloads_total{result="error"}')).toBeGreaterThanOrEqual(1);
      expect(await colorThrough(s.ports.outbound)).toBe('green');
    }
    const refused = await waitFor(async () => { const x = await status(redis.url, 'invalid'); return x.sidecars.length === 2 && x.sidecars.every((s) => s.lastError?.generation === 2) ? x : undefined; }, { what: 'reports of the refusal' });
    expect(refused.converged).toBe(false);
    expect(refused.sidecars[0]!.lastError!.message).toMatch(/unknown upstream "purple"/);

    await link.command('SET', k.generation, 3);
    await link.command('SET', k.current, 'not json {');
    await link.command('PUBLISH', k.events, `${head.epoch}:3`);
    for (const s of sidecars) {
      const dump = await waitFor(async () => { const d = await adminJson(s, '/config_dump'); return d.lastError?.generation === 3 && d; }, { what: 'lastError of generation 3' });
      expect(dump.lastError.errors[0]).toMatchObject({ file: 'fleet:invalid@3', path: '(document)', message: expect.stringMatching(/not JSON/) });
    }
    // The next good publish applies everywhere and clears the error.
    const next = await new FleetStore(link, 'invalid').publish({ policy: colorPolicy('blue', up), hash: 'b', publishedBy: 't', message: '', rollbackOf: null });
    expect(next.ok && next.generation.generation).toBe(4);
    await waitColor(sidecars, 'blue');
    for (const s of sidecars) expect(await waitFor(async () => (await adminJson(s, '/config_dump')).lastError === null, { what: 'lastError cleared' })).toBe(true);
  }, 40_000);

  it('a partitioned sidecar keeps serving, is reported behind, and catches up when its connection returns', async () => {
    const up = await colors();
    const proxy = await ToxicProxy.start({ targetPort: redis.server.port });
    const viaProxy = `redis://127.0.0.1:${proxy.port}`;
    try {
      const [[a], [cut]] = await Promise.all([spawnFleet(1, colorPolicy('blue', up), redis.url, 'partition'), spawnFleet(1, colorPolicy('blue', up), viaProxy, 'partition')]);
      const all = [a!, cut!];
      await publish(redis.url, 'partition', colorPolicy('green', up));
      await waitColor(all, 'green');
      await proxy.disable(); // resets its connections and refuses new ones: Redis is gone, for this sidecar only
      await waitFor(async () => (await metric(cut!, 'pilotfish_fleet_connected')) === 0, { what: 'the cut sidecar to see it' });
      const gen = await publish(redis.url, 'partition', colorPolicy('blue', up), 'while partitioned');
      await waitColor([a!], 'blue');
      expect(await colorThrough(cut!.ports.outbound)).toBe('green'); // still serving its last good policy
      expect(await adminJson(cut!, '/config_dump')).toMatchObject({ source: 'fleet', fleet: { connected: false, generation: 1 } });
      const behind = await status(redis.url, 'partition');
      expect(behind.converged).toBe(false);
      await proxy.enable();
      await waitColor([cut!], 'blue', 8000); // reconnect (backoff ≤ ~2 s) → re-read → apply
      // Both connections (commands and the subscriber) reconnect on their own backoff.
      await waitFor(async () => (await adminJson(cut!, '/config_dump')).fleet.connected, { timeoutMs: 8000, what: 'both connections back' });
      expect(await adminJson(cut!, '/config_dump')).toMatchObject({ fleet: { connected: true, generation: gen } });
      await waitFor(async () => (await status(redis.url, 'partition')).converged, { timeoutMs: 8000, what: 'the fleet to converge' });
    } finally {
      await proxy.close();
    }
  }, 40_000);

  it('Redis killed under load: no request fails, sidecars reconnect; restarted empty, nothing reverts; the next publish reaches all', async () => {
    const own = await startRedis();
    const up = await colors();
    const sidecars = await spawnFleet(2, colorPolicy('blue', up), own.url, 'outage');
    await publish(own.url, 'outage', colorPolicy('green', up));
    await waitColor(sidecars, 'green');
    const load = steadyLoad(() => sidecars.map((s) => s.ports.outbound));
    await own.kill();
    for (const s of sidecars) await waitFor(async () => (await metric(s, 'pilotfish_fleet_connected')) === 0, { what: 'disconnected' });
    await new Promise((r) => setTimeout(r, 500)); // traffic flows with Redis gone
    await own.restart(); // empty: nothing was persisted
    for (const s of sidecars) await waitFor(async () => (await metric(s, 'pilotfish_fleet_connected')) === 1, { timeoutMs: 8000, what: 'reconnected' });
    for (const s of sidecars) {
      const dump = await waitFor(async () => { const d = await adminJson(s, '/config_dump'); return d.fleet.warning && d; }, { what: 'the empty-store warning' });
      expect(dump).toMatchObject({ source: 'fleet', fleet: { generation: 1, store: { generation: 0, epoch: null } } });
      expect(dump.fleet.warning).toMatch(/store is empty.*keeping generation 1/);
      expect(await colorThrough(s.ports.outbound)).toBe('green');
    }
    const result = await load.stop();
    expect(result.failed, result.failures.join('\n')).toBe(0);
    expect(result.ok).toBeGreaterThan(100);
    // After the reset, the next publish (generation 1 of a new epoch) still reaches every sidecar.
    await publish(own.url, 'outage', colorPolicy('blue', up), 'after the reset');
    await waitColor(sidecars, 'blue');
    const st = await waitFor(async () => { const x = await status(own.url, 'outage'); return x.converged && x.sidecars.length === 2 ? x : undefined; }, { timeoutMs: 8000, what: 'convergence on the new epoch' });
    expect(st.generation).toBe(1);
    for (const s of sidecars) expect((await adminJson(s, '/config_dump')).fleet.warning).toBeNull();
  }, 60_000);

  it('the file is the bootstrap and the fallback; the fleet wins while it holds a policy; listeners and locality come from the file only', async () => {
    const own = await startRedis();
    const port = own.port;
    await own.kill(); // nothing listens there: the sidecar starts on its file
    const up = await colors();
    const [s] = await spawnFleet(1, colorPolicy('blue', up), `redis://127.0.0.1:${port}`, 'fallback');
    // It did not wait on the unreachable Redis: it gave up on it (with the warning) and then listened.
    const gaveUp = s!.logs.findIndex((e) => typeof e.msg === 'string' && e.msg.startsWith('fleet: Redis not reachable at start'));
    expect(gaveUp).toBeGreaterThanOrEqual(0);
    expect(gaveUp).toBeLessThan(s!.logs.findIndex((e) => e.msg === 'listening'));
    expect(await colorThrough(s!.ports.outbound)).toBe('blue');
    expect(await adminJson(s!, '/config_dump')).toMatchObject({ source: 'file', fleet: { connected: false, generation: null } });
    await own.restart();
    // The published policy asks for other listeners and another place: ignored, the file's stay.
    const fleetPolicy = `locality: { region: elsewhere, zone: z }\n${colorPolicy('green', up).replace('admin: { port: 0 }', 'admin: { port: 1, token: stolen }')}`;
    await publish(own.url, 'fallback', fleetPolicy);
    await waitColor([s!], 'green', 8000);
    const dump = await adminJson(s!, '/config_dump'); // no token needed: the admin listener is still the file's
    expect(dump.source).toBe('fleet');
    expect(dump.policy.listeners.admin).toEqual({ port: 0, address: '127.0.0.1' });
    expect(dump.locality).toBeNull();
    expect(dump.policy.locality).toBeUndefined();
    // An edited file does not displace the fleet's policy.
    const file = dump.file as string;
    await writeFile(file, (await readFile(file, 'utf8')).replace('to: [{ upstream: blue }]', 'to: [{ upstream: blue }] # edited'));
    await waitFor(async () => s!.logs.some((l) => String(l.msg).includes('the fleet\'s policy keeps serving')), { what: 'the file reload' });
    expect(await colorThrough(s!.ports.outbound)).toBe('green');
  }, 40_000);

  it('run without --fleet never loads the Redis client; with --fleet it does', async () => {
    // A resolve hook in each process logs (as a JSON log line) every import of ioredis.
    // (NODE_OPTIONS splits on spaces and drops double quotes: the script has neither.)
    const hook = "--import=data:text/javascript,import{registerHooks}from'node:module';registerHooks({resolve(s,c,n){if(s==='ioredis')process.stderr.write(JSON.stringify({msg:'ioredis-imported'})+String.fromCharCode(10));return(n(s,c))}})";
    const up = await colors();
    const policy = colorPolicy('blue', up);
    const [without, [withFleet]] = await Promise.all([tracked(spawnSidecar(policy, ['--no-access-log'], { NODE_OPTIONS: hook })), spawnFleet(1, policy, redis.url, 'rss', { NODE_OPTIONS: hook })]);
    expect(await colorThrough(without.ports.outbound)).toBe('blue');
    expect(await colorThrough(withFleet!.ports.outbound)).toBe('blue');
    const imported = (p: typeof without): boolean => p.logs.some((l) => l.msg === 'ioredis-imported');
    expect(imported(withFleet!)).toBe(true);
    expect(imported(without)).toBe(false);
  }, 30_000);

  it('credentials never appear in logs, /config_dump, /metrics or fleet status — not even when Redis fails', async () => {
    const USER = 'pf-ops-user';
    const SECRET = 'pf-Secret-7f3a';
    const own = await startRedis({ user: { name: USER, password: SECRET } });
    const up = await colors();
    const [s] = await spawnFleet(1, colorPolicy('blue', up), own.url, 'secret');
    const [wrong] = await spawnFleet(1, colorPolicy('blue', up), own.url.replace(SECRET, `not-${SECRET.slice(3)}`), 'secret');
    const outputs: string[] = [];
    const io = { stdout: (t: string) => { outputs.push(t); }, stderr: (t: string) => { outputs.push(t); }, readStdin: async () => '' };
    const file = await writePolicy(colorPolicy('green', up));
    expect(await publishCommand([file, '--fleet', own.url, '--fleet-key', 'secret', '--json'], io)).toBe(0);
    await waitColor([s!], 'green');
    await waitFor(async () => (await status(own.url, 'secret')).converged);
    for (const args of [['status'], ['status', '--json']]) await fleetCommand([...args, '--fleet', own.url, '--fleet-key', 'secret'], io);
    await own.kill(); // errors while it is gone, and on the way back
    await waitFor(async () => (await metric(s!, 'pilotfish_fleet_connected')) === 0);
    await own.restart();
    await waitFor(async () => (await metric(s!, 'pilotfish_fleet_connected')) === 1, { timeoutMs: 8000 });
    outputs.push(JSON.stringify(await adminJson(s!, '/config_dump')), JSON.stringify(await adminJson(wrong!, '/config_dump')));
    outputs.push((await request(s!.ports.telemetry, { path: '/metrics' })).text);
    await waitFor(() => wrong!.stderr.some((l) => l.includes('WRONGPASS')), { what: 'the failed authentication to be logged' });
    const everything = [...outputs, ...s!.stderr, ...s!.stdout, ...wrong!.stderr, ...wrong!.stdout].join('\n');
    expect(everything).toContain(`redis://127.0.0.1:${own.port}`); // the URL is shown — without credentials
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain(SECRET.slice(3));
    expect(everything).not.toContain(USER);
  }, 40_000);

  it.skipIf(!req.ok)(`rediss:// with a password: sidecars, publish and fleet status over TLS${req.label}`, async () => {
    const certs = await testCertificates();
    const SECRET = 'pf-tls-Secret-91';
    const own = await startRedis({ password: SECRET, tls: certs });
    expect(own.url).toMatch(/^rediss:\/\//);
    // The test CA is trusted the way an operator would trust a private CA: NODE_EXTRA_CA_CERTS.
    const env = { NODE_EXTRA_CA_CERTS: certs.caFile };
    const up = await colors();
    const [s] = await spawnFleet(1, colorPolicy('blue', up), own.url, 'tls', env);
    const file = await writePolicy(colorPolicy('green', up));
    const published = await cliProcess(['publish', file, '--fleet', own.url, '--fleet-key', 'tls'], env);
    expect(published.code, published.stderr).toBe(0);
    await waitColor([s!], 'green');
    expect(await adminJson(s!, '/config_dump')).toMatchObject({ source: 'fleet', fleet: { connected: true, url: `rediss://127.0.0.1:${own.port}` } });
    const st = await waitFor(async () => { const r = await cliProcess(['fleet', 'status', '--fleet', own.url, '--fleet-key', 'tls'], env); return r.code === 0 ? r : undefined; }, { timeoutMs: 15_000, what: 'status over TLS' });
    expect(st.stdout + st.stderr + published.stdout + published.stderr + s!.stderr.join('\n')).not.toContain(SECRET);
    // Without the CA the server's certificate is refused: TLS is verified, not merely on.
    const refused = await cliProcess(['fleet', 'status', '--fleet', own.url, '--fleet-key', 'tls'], {});
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/cannot reach Redis at rediss:\/\/127\.0\.0\.1:\d+: .*(certificate|self.signed|issuer)/i);
  }, 60_000);
});

/** A CA and a server certificate for 127.0.0.1 (the certs module), in a temporary directory. */
async function testCertificates(): Promise<{ certFile: string; keyFile: string; caFile: string }> {
  const dir = await writeLeafDir(await createCa({ name: 'pilotfish test CA' }), { ips: ['127.0.0.1'], commonName: '127.0.0.1' });
  return { certFile: path.join(dir, 'tls.crt'), keyFile: path.join(dir, 'tls.key'), caFile: path.join(dir, 'ca.crt') };
}

function cliProcess(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c; });
    child.stderr.on('data', (c: Buffer) => { stderr += c; });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
