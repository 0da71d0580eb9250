// Driver of bench/fleet-instructions.sh: starts nothing of the sidecar's. Given a Redis URL, a fleet
// key and a sidecar id prefix, it publishes N flips (blue ↔ green), waiting after each until the
// sidecar's fleet report says it serves the new generation — with no POLLS it sends the sidecar no
// request, so what the sidecar spends is the flip itself (the push, the reads, the apply, the report)
// and its timers.
//   node bench/fleet-instructions-driver.mjs REDIS_URL KEY N POLICY_BLUE POLICY_GREEN
// With the sidecar's outbound port in PORT (and the upstreams' in BLUE_PORT / GREEN_PORT, served by
// bench/servers.mjs text): WARM requests through it before the first flip (as bench:fleet's
// sidecars have served traffic; GREEN_WARM more to host web2, which the policies then route to
// green; OTHER more to host web3, routed to a third upstream, gray), then after each flip requests until it answers the new color and
// POLLS more (the first requests on the new snapshot, what bench:fleet times). SPLIT=K with the
// sidecar's PID (under callgrind): `callgrind_control -d` after the warm-up, after flip K and after
// the last flip — three windows: start-up and warm-up, the first K flips, the rest.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { RedisLink } from '../dist/fleet/redis.js';
import { FleetStore } from '../dist/fleet/store.js';
import { publishable } from '../dist/fleet/publishable.js';

const [url, key, n, blueFile, greenFile] = process.argv.slice(2);
const { PORT, PID } = process.env;
const WARM = Number(process.env.WARM ?? 0);
const POLLS = Number(process.env.POLLS ?? 0);
const GREEN_WARM = Number(process.env.GREEN_WARM ?? 0);
const OTHER = Number(process.env.OTHER ?? 0);
const SPLIT = Number(process.env.SPLIT ?? 0);
const texts = [readFileSync(blueFile, 'utf8'), readFileSync(greenFile, 'utf8')];
const link = await RedisLink.open(url, { name: 'driver', commandTimeoutMs: 30_000 });
if (!await link.whenReady(5000)) throw new Error('redis not reachable');
const store = new FleetStore(link, key);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const served = async () => (await store.live(60_000)).sidecars.map((s) => s.report.generation);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = (host = 'web') => new Promise((resolve) => {
  http.get({ host: '127.0.0.1', port: Number(PORT), headers: { host }, agent }, (res) => {
    let body = '';
    res.on('data', (c) => (body += c));
    res.on('end', () => resolve(body));
  }).on('error', (err) => resolve(`error ${err.message}`));
});
const dump = () => { if (SPLIT && PID) execFileSync('callgrind_control', ['-d', PID], { stdio: 'ignore' }); };
for (let i = 0; i < WARM; i++) if (await get() !== 'blue') throw new Error('warm-up: not blue');
for (let i = 0; i < GREEN_WARM; i++) if (await get('web2') !== 'green') throw new Error('warm-up: web2 not green');
for (let i = 0; i < OTHER; i++) if (await get('web3') !== 'gray') throw new Error('warm-up: web3 not gray');
dump();
for (let i = 0; i < Number(n); i++) {
  const color = ['blue', 'green'][(i + 1) % 2];
  const r = await store.publish({ ...publishable(texts[(i + 1) % 2]), publishedBy: 'bench', message: String(i), rollbackOf: null });
  const deadline = Date.now() + 60_000;
  if (PORT && (WARM || POLLS)) {
    for (let body = await get(); body !== color; body = await get()) if (Date.now() > deadline) throw new Error(`flip ${i}: not ${color} within 60 s (${body})`);
    for (let k = 0; k < POLLS; k++) await get();
  }
  // At least one report: before the sidecar listens it reports nothing, and "all of none" is no flip.
  for (let g = await served(); !(g.length > 0 && g.every((x) => x === r.generation.generation)); g = await served()) {
    if (Date.now() > deadline) throw new Error(`flip ${i} not applied within 60 s`);
    await sleep(5);
  }
  if (i + 1 === SPLIT) dump();
}
dump();
agent.destroy();
await link.close();
