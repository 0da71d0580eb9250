// Fleet propagation: N real `pilotfish run --fleet` processes (default 20) on one redis-server; 50
// rounds of a publish (blue → green) and a rollback (green → blue). Each flip is timed from the
// publish (or rollback) call returning to every sidecar answering a request on the new policy,
// polled through each sidecar's outbound port; every poll must succeed — the flip costs the
// sidecars' traffic nothing. Prints p50/p99/max of the flip (slowest sidecar) and of each sidecar's
// own catch-up, and the sidecars' CPU per flip, told apart from their idle baseline.
//   npm run bench:fleet        (BENCH_SIDECARS=20, BENCH_ROUNDS=50)
import http from 'node:http';
import os from 'node:os';
import { blueGreen, cpuMs, sidecarWithPolicy, stopAll } from './lib.mjs';
import { RedisServer } from '../dist/chaos/redis-server.js';
import { RedisLink } from '../dist/fleet/redis.js';
import { FleetStore } from '../dist/fleet/store.js';
import { publishable } from '../dist/fleet/publishable.js';
import { rollback } from '../dist/fleet/rollback.js';

const SIDECARS = Number(process.env.BENCH_SIDECARS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 50);
const KEY = 'bench';
const IDLE_MS = 3000;

const flip = await blueGreen();
const { policy } = flip;

/** One keep-alive connection per sidecar, as an application's pool would hold. */
function poller(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = () => new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port, headers: { host: 'web' }, agent }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 ? body : `status ${res.statusCode}`));
      res.on('error', (err) => resolve(`error ${err.code ?? err.message}`));
    }).on('error', (err) => resolve(`error ${err.code ?? err.message}`));
  });
  return { get, close: () => agent.destroy() };
}

const redis = await RedisServer.start();
const link = await RedisLink.open(redis.url, { name: 'bench' });
if (!await link.whenReady(5000)) throw new Error(`redis not reachable: ${link.lastError}`);
const store = new FleetStore(link, KEY);
const stats = { requests: 0, failures: [] };
const pollers = [];
try {
  // Start in batches of 5: twenty processes booting at once on two cores would time out each other.
  const ports = [];
  const pids = [];
  for (let i = 0; i < SIDECARS; i += 5) {
    const batch = await Promise.all(Array.from({ length: Math.min(5, SIDECARS - i) }, () => sidecarWithPolicy(policy('blue'), ['--fleet', redis.url, '--fleet-key', KEY, '--no-access-log'])));
    ports.push(...batch.map((s) => s.port));
    pids.push(...batch.map((s) => s.pid));
  }
  pollers.push(...ports.map(poller));
  const publish = async (color) => {
    const text = policy(color);
    const r = await store.publish({ ...publishable(text), publishedBy: 'bench', message: color, rollbackOf: null });
    if (!r.ok) throw new Error('conflict');
  };
  /** Polls every sidecar until it answers `want`; each sidecar's catch-up time, ms after t0. */
  const converge = (want, t0) => Promise.all(pollers.map(async (p) => {
    for (;;) {
      const body = await p.get();
      stats.requests++;
      if (body === want) return performance.now() - t0;
      if (body !== 'blue' && body !== 'green') stats.failures.push(body);
      if (performance.now() - t0 > 10_000) throw new Error(`a sidecar did not serve ${want} within 10 s`);
    }
  }));
  await publish('blue');
  await converge('blue', performance.now());

  const flips = { publish: [], rollback: [] };
  const cpuOf = () => pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
  // The sidecars' CPU while nothing happens (their timers, the event-loop monitor, GC): part of
  // what the rounds cost that no flip causes, told apart below.
  const idle0 = cpuOf();
  const idleT0 = performance.now();
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const idlePerMs = (cpuOf() - idle0) / (performance.now() - idleT0);
  const cpu0 = cpuOf();
  const rounds0 = performance.now();
  const perSidecar = [];
  for (let round = 0; round < ROUNDS; round++) {
    await publish('green');
    let t0 = performance.now();
    let times = await converge('green', t0);
    flips.publish.push(Math.max(...times));
    perSidecar.push(...times);
    const r = await rollback(store, undefined, 'bench');
    if (r.kind !== 'published') throw new Error(`rollback: ${JSON.stringify(r)}`);
    t0 = performance.now();
    times = await converge('blue', t0);
    flips.rollback.push(Math.max(...times));
    perSidecar.push(...times);
  }
  // The sidecars' CPU over the rounds: applying each flip, serving the polls, their timers.
  const cpuPerFlip = (cpuOf() - cpu0) / (2 * ROUNDS * SIDECARS);
  const idlePerFlip = (idlePerMs * (performance.now() - rounds0)) / (2 * ROUNDS * SIDECARS);
  const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
  const line = (name, xs) => `${name.padEnd(30)} p50 ${q(xs, 50).toFixed(1).padStart(6)} ms   p99 ${q(xs, 99).toFixed(1).padStart(6)} ms   max ${Math.max(...xs).toFixed(1).padStart(6)} ms   (${xs.length})`;
  const all = [...flips.publish, ...flips.rollback];
  console.log(`fleet propagation: ${SIDECARS} sidecars, ${ROUNDS} publishes + ${ROUNDS} rollbacks (load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, ${os.cpus().length} cores)`);
  console.log(line('every sidecar on the new policy', all));
  console.log(line('  after a publish', flips.publish));
  console.log(line('  after a rollback', flips.rollback));
  console.log(line('one sidecar on the new policy', perSidecar));
  console.log(`CPU per sidecar per flip: ${cpuPerFlip.toFixed(1)} ms (${(cpuPerFlip * SIDECARS).toFixed(0)} ms across the fleet, ${os.cpus().length} cores), of which ${idlePerFlip.toFixed(1)} ms its idle baseline (${(idlePerMs * 1000 / SIDECARS).toFixed(1)} ms per second per sidecar, measured over ${IDLE_MS / 1000} s before the rounds) and ${(cpuPerFlip - idlePerFlip).toFixed(1)} ms the flip and the polls`);
  console.log(`traffic during the flips: ${stats.requests} requests through the sidecars, ${stats.failures.length} failed${stats.failures.length ? ` (${[...new Set(stats.failures)].slice(0, 5).join(', ')})` : ''}`);
  console.log(`target: p99 < 100 ms for 20 sidecars: ${q(all, 99) < 100 ? 'met' : 'NOT met'} on this run`);
  if (stats.failures.length > 0) process.exitCode = 1;
} finally {
  for (const p of pollers) p.close();
  await stopAll();
  await link.close();
  await redis.stop();
  flip.close();
}
