// Interleaved A/B of a sidecar's RSS between variants (builds, environments, node flags): each round
// starts each variant fresh on the same policy (POLICY=full by default, a key of bench/lib.mjs's
// POLICIES) as the image starts it, reads RSS 1 s after ready, then 1 s after each 10 s wrk load;
// the order flips every other round. RSS hardly depends on the machine's load, so this runs on a
// shared machine where timings cannot (the load average is printed); take >= 3 rounds per side.
//   node bench/rss-ab.mjs ROUNDS VARIANTS_JSON [LOADS]      (after npm run build; needs wrk)
// VARIANTS_JSON: [{"name":"a","root":"/path/to/a/build","env":{},"nodeArgs":[],"args":[]}, ...],
// root defaulting to this repository (Node's compile cache is what a variant's env says: give each a
// warmed NODE_COMPILE_CACHE, or NODE_DISABLE_COMPILE_CACHE=1, to compare like with like); LOADS: comma-separated c50 and c500 (default both; '' for idle only).
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import path from 'node:path';
import { ROOT, start, wrk, rss, cpuMs, median, stopAll, LISTENERS, POLICIES, SIDECAR_ENV, SIDECAR_V8_FLAGS, LOAD_CORE, PROXY_CORE, pinnedBench } from './lib.mjs';
pinnedBench();
const rounds = Number(process.argv[2]);
const variants = JSON.parse(process.argv[3]);
const loads = (process.argv[4] ?? 'c50,c500').split(',').filter(Boolean);
const policyName = process.env.POLICY ?? 'full';
const res = Object.fromEntries(variants.map((v) => [v.name, { idle: [], cpu: [], c50: [], c500: [], ready: [], rps: { c50: [], c500: [] } }]));
const la = [];
try {
  const up = await start(['bench/servers.mjs', 'upstream'], { core: LOAD_CORE });
  const dir = mkdtempSync(path.join(tmpdir(), 'pilotfish-rss-ab-'));
  const file = path.join(dir, 'policy.yaml');
  writeFileSync(file, `version: 1\n${LISTENERS}${POLICIES[policyName](up.port)}`);
  // The access log not beside the policy file, whose directory the sidecar watches (bench/lib.mjs).
  mkdirSync(path.join(dir, 'log'));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...variants].reverse() : variants;
    for (const v of order) {
      la.push(loadavg()[0]);
      const p = await start([path.join(v.root ?? ROOT, 'dist/cli/main.js'), 'run', '--policy', file, ...(v.args ?? [])], { sidecar: true, env: { ...SIDECAR_ENV, ...(v.env ?? {}) }, nodeArgs: [...SIDECAR_V8_FLAGS, ...(v.nodeArgs ?? [])], core: PROXY_CORE, stdoutFile: path.join(dir, 'log', 'access.log') });
      const cpu = cpuMs(p.pid);
      await sleep(1000);
      const o = res[v.name];
      o.idle.push(rss(p.pid)); o.cpu.push(cpu); o.ready.push(p.readyMs);
      for (const l of loads) {
        const w = await wrk(p.port, { connections: l === 'c50' ? 50 : 500, seconds: 10 });
        if (w.non2xx || w.errors) console.error(v.name, l, 'non2xx', w.non2xx, w.errors);
        o.rps[l].push(w.rps);
        await sleep(1000);
        o[l].push(rss(p.pid));
      }
      console.error(`round ${r} ${v.name}: idle ${o.idle.at(-1).toFixed(1)} ${loads.map((l) => `${l} ${o[l].at(-1).toFixed(1)}`).join(' ')} cpu ${cpu}`);
      p.child.kill('SIGKILL');
      await new Promise((resolve) => (p.child.exitCode === null && p.child.signalCode === null ? p.child.once('exit', resolve) : resolve()));
    }
  }
  const f = (xs) => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
  console.log(`load average during runs: ${Math.min(...la).toFixed(1)}–${Math.max(...la).toFixed(1)}`);
  for (const v of variants) { const o = res[v.name]; console.log(`${v.name}: idle ${f(o.idle)} ${loads.map((l) => `${l} ${f(o[l])} (${Math.round(median(o.rps[l]))} req/s)`).join(' ')} cpu-to-ready ${median(o.cpu)}`); }
} finally { await stopAll(); }
