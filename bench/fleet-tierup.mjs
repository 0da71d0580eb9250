// What V8 compiles in one fleet sidecar flip by flip: one `pilotfish run --fleet` with --trace-opt and
// --trace-deopt, WARM requests through it (default 500), then FLIPS flips as bench:fleet makes them (a
// publish, polls until it answers the new color, one more poll), each followed by a pause; per flip,
// the Maglev and TurboFan compiles it completed and the bailouts (NAMES=1: the functions of a flip
// with more than 50). With WARM=500 one early flip compiles ~150 functions of the request path (it
// had not reached Maglev yet); with WARM=3000 none does — why bench:fleet warms with 3,000.
// (After npm run build; needs redis-server.)  V8X="--flag …" adds node flags.
//   node bench/fleet-tierup.mjs [FLIPS]   (default 30)
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { blueGreen, start, stopAll } from './lib.mjs';
import { RedisServer } from '../dist/chaos/redis-server.js';
import { RedisLink } from '../dist/fleet/redis.js';
import { FleetStore } from '../dist/fleet/store.js';
import { publishable } from '../dist/fleet/publishable.js';
import { SIDECAR_V8_FLAGS } from '../dist/cli/v8-flags.js';

const FLIPS = Number(process.argv[2] ?? 30);
const flip = await blueGreen();
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = (port) => new Promise((resolve) => { http.get({ host: '127.0.0.1', port, headers: { host: 'web' }, agent }, (res) => { let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => resolve(b)); }).on('error', (e) => resolve(String(e))); });
const redis = await RedisServer.start();
const link = await RedisLink.open(redis.url, { name: 'tier' }); await link.whenReady(5000);
const store = new FleetStore(link, 'tier');
const docs = { blue: publishable(flip.policy('blue')), green: publishable(flip.policy('green')) };
const publish = (c) => store.publish({ ...docs[c], publishedBy: 'x', message: c, rollbackOf: null });
await publish('blue');
const dir = mkdtempSync(path.join(tmpdir(), 'tier-')); const file = path.join(dir, 'p.yaml'); writeFileSync(file, flip.policy('blue'));
const out = path.join(dir, 'v8.txt');
const sc = await start(['dist/cli/main.js', 'run', '--policy', file, '--fleet', redis.url, '--fleet-key', 'tier', '--no-access-log'], { sidecar: true, nodeArgs: [...SIDECAR_V8_FLAGS, '--trace-opt', '--trace-deopt', ...(process.env.V8X ?? '').split(' ').filter(Boolean)], stdoutFile: out });
try {
  while (await get(sc.port) !== 'blue') await new Promise((r) => setTimeout(r, 10));
  for (let i = 0; i < Number(process.env.WARM ?? 500); i++) await get(sc.port);
  await new Promise((r) => setTimeout(r, 3000));
  let mark = readFileSync(out, 'utf8').length;
  let color = 'blue';
  for (let f = 1; f <= FLIPS; f++) {
    color = color === 'blue' ? 'green' : 'blue';
    await publish(color);
    while (await get(sc.port) !== color) { /* polls until the flip is served */ }
    await get(sc.port);
    await new Promise((r) => setTimeout(r, 300));
    const text = readFileSync(out, 'utf8'); const chunk = text.slice(mark); mark = text.length;
    const lines = chunk.split('\n');
    const done = lines.filter((l) => /completed (compiling|optimizing)/.test(l));
    const kinds = {}; for (const l of done) { const k = /(MAGLEV|TURBOFAN_JS|TURBOFAN)/.exec(l)?.[1] ?? '?'; kinds[k] = (kinds[k] ?? 0) + 1; }
    const bail = lines.filter((l) => l.includes('bailout')).length;
    if (process.env.NAMES && bail > 0) console.log(`  bailouts: ${lines.filter((l) => l.includes('bailout')).map((l) => `${/<JSFunction ([^ >]+)/.exec(l)?.[1] ?? '?'} (${/reason: ([^)]*)\)/.exec(l)?.[1] ?? '?'})`).join(', ')}`);
    if (process.env.NAMES && done.length > 50) { const by = {}; for (const l of done) { const fn = /<JSFunction ([^ >]+)/.exec(l)?.[1] ?? '?'; by[fn] = (by[fn] ?? 0) + 1; } console.log(Object.keys(by).join(' ')); }
    console.log(`flip ${String(f).padStart(2)}: ${done.length} compiles ${JSON.stringify(kinds)}, ${bail} bailouts`);
  }
} finally { agent.destroy(); await stopAll(); await link.close(); await redis.stop(); flip.close(); rmSync(dir, { recursive: true, force: true }); }
