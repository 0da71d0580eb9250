/**
 * Fleets of real `pilotfish run --fleet` processes for tests: coloured upstreams to tell which
 * policy answered, spawning and stopping sidecars, and reading their admin and metrics endpoints.
 */
import http from 'node:http';
import { afterAll } from 'vitest';
import { textHash } from '../../src/config/index.js';
import { FleetStore } from '../../src/fleet/store.js';
import { request, waitFor } from './http.js';
import { redisLink } from './redis.js';
import { spawnSidecar, testListeners, type SidecarProcess } from './sidecar.js';
import { startUpstream, type Upstream } from './upstream.js';

/** An upstream that answers 200 with `x-color: <color>` (and its color as the body). */
export async function colorUpstream(color: string): Promise<Upstream> {
  return startUpstream((req, res) => {
    req.resume();
    req.on('end', () => { res.writeHead(200, { 'x-color': color, 'content-type': 'text/plain' }); res.end(color); });
  });
}

/** A policy sending host `web` to the upstream of one color (both colors declared). */
export function colorPolicy(color: string, upstreams: Readonly<Record<string, Upstream>>, extra = ''): string {
  const ups = Object.entries(upstreams).map(([c, u]) => `  ${c}: { endpoints: [{ address: "${u.address}" }] }`).join('\n');
  return `version: 1
${testListeners()}upstreams:
${ups}
routes:
  - name: web
    match: { host: web }
    to: [{ upstream: ${color} }]
    timeout: 2s
${extra}`;
}

/** Which color answers through a sidecar's outbound port (`error:<status>` otherwise). */
export async function colorThrough(outboundPort: number): Promise<string> {
  const r = await request(outboundPort, { headers: { host: 'web' } });
  return r.status === 200 ? String(r.headers['x-color']) : `error:${r.status}`;
}

export async function waitColor(sidecars: readonly SidecarProcess[], color: string, timeoutMs = 5000): Promise<void> {
  await Promise.all(sidecars.map((s, i) => waitFor(async () => (await colorThrough(s.ports.outbound)) === color, { timeoutMs, what: `sidecar ${i} answering ${color}` })));
}

export async function adminJson<T = any>(s: SidecarProcess, path: string): Promise<T> {
  return (await request(s.ports.admin, { path })).json<T>();
}

export async function metricsText(s: SidecarProcess): Promise<string> {
  return (await request(s.ports.telemetry, { path: '/metrics' })).text;
}

/** The value of one series in a sidecar's /metrics (`name{labels}` exactly as exposed), or undefined. */
export async function metric(s: SidecarProcess, series: string): Promise<number | undefined> {
  const line = (await metricsText(s)).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const running = new Set<SidecarProcess>();
// Registered when a test file imports this module (a hook registered inside a running test never runs).
afterAll(async () => { await Promise.all([...running].map(stopSidecar)); });
process.on('exit', () => { for (const s of running) s.child.kill('SIGKILL'); });

/** `n` sidecars on fleet `key`, each started on `policy` (its file); stopped after the test file. */
export async function spawnFleet(n: number, policy: string, fleetUrl: string, key: string, env: NodeJS.ProcessEnv = {}): Promise<SidecarProcess[]> {
  return Promise.all(Array.from({ length: n }, () => tracked(spawnSidecar(policy, ['--fleet', fleetUrl, '--fleet-key', key, '--no-access-log'], env))));
}

/** A sidecar process that is stopped after the test file, whatever happens. */
export async function tracked(p: Promise<SidecarProcess>): Promise<SidecarProcess> {
  const s = await p;
  running.add(s);
  return s;
}

export async function stopSidecar(s: SidecarProcess): Promise<void> {
  running.delete(s);
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  s.child.kill('SIGKILL');
  await s.exited;
}

/** Publishes policy text as the next generation of `key` (what `pilotfish publish` does, minus the file). */
export async function publish(url: string, key: string, text: string, message = ''): Promise<number> {
  const store = new FleetStore(await redisLink(url), key);
  const r = await store.publish({ policy: text, hash: textHash(text), publishedBy: 'test', message, rollbackOf: null });
  if (!r.ok) throw new Error('publish conflict');
  return r.generation.generation;
}

/** Closed-loop traffic through every sidecar until stopped: counts answers and failures. */
export function steadyLoad(ports: () => readonly number[], concurrencyPerSidecar = 2): { stop(): Promise<{ ok: number; failed: number; failures: string[] }> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let stopping = false;
  let ok = 0;
  const failures: string[] = [];
  const worker = async (index: number): Promise<void> => {
    while (!stopping) {
      const port = ports()[index % ports().length]!;
      try {
        const r = await request(port, { headers: { host: 'web' }, agent });
        if (r.status === 200) ok++; else failures.push(`status ${r.status} ${r.text.slice(0, 80)}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  const workers = Array.from({ length: ports().length * concurrencyPerSidecar }, (_, i) => worker(i));
  return {
    async stop() {
      stopping = true;
      await Promise.all(workers);
      agent.destroy();
      return { ok, failed: failures.length, failures: failures.slice(0, 5) };
    },
  };
}
