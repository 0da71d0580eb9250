// One real sidecar on a fleet, measured phase by phase (CPU from /proc; optionally a V8 CPU profile
// of the sidecar): idle for 10 s, FLIPS flips 50 ms apart with no traffic, 5 × FLIPS polls with no
// flips — each phase's CPU less the idle rate. What `npm run bench:fleet`'s "CPU per sidecar per
// flip" is made of, without twenty processes sharing two cores. (After npm run build.)
//   node bench/fleet-profile.mjs [FLIPS]   (default 200; PROFILE_DIR=dir writes a .cpuprofile)
import http from 'node:http';
import { blueGreen, cpuMs, start, stopAll } from './lib.mjs';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RedisServer } from '../dist/chaos/redis-server.js';
import { RedisLink } from '../dist/fleet/redis.js';
import { FleetStore } from '../dist/fleet/store.js';
import { publishable } from '../dist/fleet/publishable.js';
import { SIDECAR_V8_FLAGS } from '../dist/cli/v8-flags.js';

const FLIPS = Number(process.argv[2] ?? 200);
const KEY = 'bench';
const flip = await blueGreen();
const { policy } = flip;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = (port) => new Promise((resolve) => {
  http.get({ host: '127.0.0.1', port, headers: { host: 'web' }, agent }, (res) => { let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => resolve(b)); }).on('error', (e) => resolve(String(e)));
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const redis = await RedisServer.start();
const link = await RedisLink.open(redis.url, { name: 'bench' });
await link.whenReady(5000);
const store = new FleetStore(link, KEY);
const publish = async (color) => { const t = policy(color); await store.publish({ ...publishable(t), publishedBy: 'bench', message: color, rollbackOf: null }); };
await publish('blue');
const dir = mkdtempSync(path.join(tmpdir(), 'pilotfish-prof-'));
const file = path.join(dir, 'policy.yaml');
writeFileSync(file, policy('blue'));
const prof = process.env.PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE_DIR}`, '--cpu-prof-interval=100'] : [];
const sc = await start(['dist/cli/main.js', 'run', '--policy', file, '--fleet', redis.url, '--fleet-key', KEY, '--no-access-log'], { sidecar: true, nodeArgs: [...SIDECAR_V8_FLAGS, ...prof], stdoutFile: path.join(dir, 'out') });
try {
  while (await get(sc.port) !== 'blue') await sleep(10);
  for (let i = 0; i < 50; i++) await get(sc.port); // warm
  await sleep(1000);
  const sys = () => Number(readFileSync(`/proc/${sc.pid}/stat`, 'utf8').split(') ')[1].split(' ')[12]) * 10; // kernel time, ms
  const phase = async (name, n, fn) => {
    const c0 = cpuMs(sc.pid); const s0 = sys(); const t0 = performance.now();
    await fn();
    const ms = performance.now() - t0; const cpu = cpuMs(sc.pid) - c0;
    console.log(`${name.padEnd(34)} ${String(cpu).padStart(6)} ms CPU (${sys() - s0} ms of it in the kernel) over ${(ms / 1000).toFixed(1)} s  → ${(cpu / n).toFixed(2)} ms per ${n > 1 ? 'one' : 'phase'}`);
    return { cpu, ms };
  };
  const idle = await phase('idle 10 s', 10, () => sleep(10_000));
  const idlePerMs = idle.cpu / idle.ms;
  let color = 'blue';
  const flips = await phase(`${FLIPS} flips, 50 ms apart, no polls`, FLIPS, async () => {
    for (let i = 0; i < FLIPS; i++) { color = color === 'blue' ? 'green' : 'blue'; await publish(color); await sleep(50); }
  });
  console.log(`  minus idle: ${((flips.cpu - idlePerMs * flips.ms) / FLIPS).toFixed(2)} ms per flip`);
  while (await get(sc.port) !== color) await sleep(10);
  const polls = await phase(`${FLIPS * 5} polls, no flips`, FLIPS * 5, async () => { for (let i = 0; i < FLIPS * 5; i++) await get(sc.port); });
  console.log(`  minus idle: ${((polls.cpu - idlePerMs * polls.ms) / (FLIPS * 5)).toFixed(3)} ms per poll`);
} finally {
  agent.destroy();
  await stopAll();
  await link.close(); await redis.stop(); flip.close();
}
