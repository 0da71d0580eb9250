// Driver of bench/fleet-instructions.sh: starts nothing itself. Given a Redis URL, a fleet key and a
// sidecar id prefix, it publishes N flips (blue ↔ green), waiting after each until the sidecar's
// fleet report says it serves the new generation — it sends the sidecar no request, so what the
// sidecar spends is the flip itself (the push, the reads, the apply, the report) and its timers.
//   node bench/fleet-instructions-driver.mjs REDIS_URL KEY N POLICY_BLUE POLICY_GREEN
import { readFileSync } from 'node:fs';
import { RedisLink } from '../dist/fleet/redis.js';
import { FleetStore } from '../dist/fleet/store.js';
import { publishable } from '../dist/fleet/publishable.js';

const [url, key, n, blueFile, greenFile] = process.argv.slice(2);
const texts = [readFileSync(blueFile, 'utf8'), readFileSync(greenFile, 'utf8')];
const link = await RedisLink.open(url, { name: 'driver', commandTimeoutMs: 30_000 });
if (!await link.whenReady(5000)) throw new Error('redis not reachable');
const store = new FleetStore(link, key);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const served = async () => (await store.live(60_000)).sidecars.map((s) => s.report.generation);
for (let i = 0; i < Number(n); i++) {
  const text = texts[(i + 1) % 2];
  const r = await store.publish({ ...publishable(text), publishedBy: 'bench', message: String(i), rollbackOf: null });
  const deadline = Date.now() + 60_000;
  // At least one report: before the sidecar listens it reports nothing, and "all of none" is no flip.
  for (let g = await served(); !(g.length > 0 && g.every((x) => x === r.generation.generation)); g = await served()) {
    if (Date.now() > deadline) throw new Error(`flip ${i} not applied within 60 s`);
    await sleep(5);
  }
}
await link.close();
