// npm run bench:library — library mode's price (SPEC §10): the same call as
//   bare          undici.request straight to the upstream (no policy at all: the floor)
//   mesh-request  undici.request through mesh.dispatcher
//   mesh-fetch    mesh.fetch (WHATWG fetch through the same dispatcher)
//   bare-fetch    the runtime's fetch straight to the upstream (what WHATWG fetch costs by itself)
//   sidecar       undici.request to a real `pilotfish run` (outbound port), one-route policy
// Each client runs in its own process (bench/library-client.mjs) against one upstream process; CPU
// per call is the client's own (process.cpuUsage over the timed window) and, for the sidecar path,
// plus the sidecar's (from /proc): what the call costs the pod end to end. The client's CPU is also
// split into user and system time and the part on threads other than the main one (V8's GC and
// compiler workers): callgrind (bench/library-instructions.sh) counts user-space instructions of
// every thread, strace (bench/library-syscalls.sh) the system calls, and these columns say which
// of the two a CPU gap between variants is in. Rounds interleave the
// variants (reversed every other round) and ratios are taken within a round, then the median.
// BENCH_SECONDS (default 4), BENCH_ROUNDS (default 5), BENCH_CONCURRENCY (default 8), BENCH_WARMUP_CALLS
// (default 20,000: each client's warm-up is a call count, so every variant is timed in the same JIT
// state — see bench/library-client.mjs; it was one second, which left the slower mesh's TurboFan
// wave inside its timed window).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { cpuMs, LISTENERS, median, pairedRatio, POLICIES, ROOT, ROUNDS, SECONDS, sidecarWithPolicy, start, stopAll } from './lib.mjs';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const VARIANTS = ['bare', 'mesh-request', 'bare-fetch', 'mesh-fetch', 'sidecar'];

/** One client run; `onWarm` is called when its warm-up is over and its timed window starts. */
function client(variant, upstreamPort, sidecarPort, onWarm) {
  const child = spawn(process.execPath, [path.join(ROOT, 'bench/library-client.mjs'), variant, String(upstreamPort), String(sidecarPort), String(SECONDS), String(CONCURRENCY)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let warm = false;
  child.stdout.on('data', (d) => {
    out += d;
    if (!warm && /^warm$/m.test(out)) { warm = true; onWarm(); }
  });
  return once(child, 'exit').then(() => JSON.parse(out.trim().split('\n').at(-1)));
}

try {
  const upstream = await start(['bench/servers.mjs', 'upstream']);
  const sc = await sidecarWithPolicy(`version: 1\n${LISTENERS}${POLICIES['one-route'](upstream.port)}`, ['--no-access-log']);
  const results = Object.fromEntries(VARIANTS.map((v) => [v, { cpu: [], user: [], system: [], offMain: [], p50: [], p99: [], rate: [] }]));
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 === 0 ? [...VARIANTS].reverse() : VARIANTS;
    for (const v of order) {
      let sidecar0 = cpuMs(sc.pid);
      const r = await client(v, upstream.port, sc.port, () => { sidecar0 = cpuMs(sc.pid); });
      // The sidecar's CPU in the client's timed window (from the end of its warm-up; /proc ticks are 10 ms).
      const extra = v === 'sidecar' ? ((cpuMs(sc.pid) - sidecar0) * 1000) / r.calls : 0;
      const res = results[v];
      res.cpu.push(r.cpuUsPerCall + extra);
      res.user.push(r.userUsPerCall);
      res.system.push(r.systemUsPerCall);
      res.offMain.push(r.offMainUsPerCall);
      res.p50.push(r.p50);
      res.p99.push(r.p99);
      res.rate.push(r.calls / SECONDS);
      process.stderr.write(`round ${round} ${v}: ${Math.round(r.calls / SECONDS)} calls/s, ${Math.round(r.cpuUsPerCall + extra)} µs CPU/call${extra ? ` (sidecar ${Math.round(extra)})` : ''}, p50/p99 ${r.p50}/${r.p99} ms${r.errors ? `, ${r.errors} errors` : ''}\n`);
    }
  }
  console.log(`\nlibrary mode, ${CONCURRENCY} concurrent callers, ${ROUNDS} rounds × ${SECONDS}s (medians; ratios within a round)\n`);
  console.log('| path | calls/s | CPU µs/call | CPU vs bare | CPU vs bare-fetch | client user / system / off-main µs | user vs bare | p50 ms | p99 ms | p50 vs sidecar |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const v of VARIANTS) {
    const r = results[v];
    console.log(`| ${v} | ${Math.round(median(r.rate))} | ${Math.round(median(r.cpu))} | ${pairedRatio(r.cpu, results.bare.cpu).toFixed(2)} | ${pairedRatio(r.cpu, results['bare-fetch'].cpu).toFixed(2)} | ${Math.round(median(r.user))} / ${Math.round(median(r.system))} / ${Math.round(median(r.offMain))} | ${pairedRatio(r.user, results.bare.user).toFixed(2)} | ${median(r.p50).toFixed(2)} | ${median(r.p99).toFixed(2)} | ${pairedRatio(r.p50, results.sidecar.p50).toFixed(2)} |`);
  }
} finally {
  await stopAll();
}
