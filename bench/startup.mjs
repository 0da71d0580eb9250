// Start-up: spawn → ready of `pilotfish run` on the full policy, the way the image starts it (the
// sidecar's V8 flags on node's command line, its environment set) and the way `npx pilotfish run`
// does (neither: it re-executes itself once to get them, src/cli/v8-flags.ts), against the bare
// undici proxy's start.
//
//   npm run bench:startup            BENCH_STARTS=10 fresh starts of each, interleaved
//
// Ready is the `listening` log line (a bare proxy: its port on stdout), as in `npm run bench`'s
// footprint table; each process is pinned to the proxy core. Also: the CPU time the process used to
// get there (user + system from /proc: less disturbed by other load than wall time, which is what
// to compare on a busy machine) and its RSS 1 s after ready. Medians.
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuMs, median, rss, sidecar, start, stopAll, LOAD_CORE, PROXY_CORE } from './lib.mjs';

const STARTS = Number(process.env.BENCH_STARTS ?? 10);

const VARIANTS = [
  { name: 'bare undici proxy', start: (up) => start(['bench/servers.mjs', 'bare-undici', String(up)], { core: PROXY_CORE }) },
  { name: 'pilotfish run, full policy (V8 flags given)', start: (up) => sidecar(up, { policy: 'full' }) },
  { name: 'pilotfish run, full policy (re-executes)', start: (up) => sidecar(up, { policy: 'full', nodeArgs: [], env: { MALLOC_ARENA_MAX: undefined } }) },
];

try {
  const upstream = await start(['bench/servers.mjs', 'upstream'], { core: LOAD_CORE });
  const runs = Object.fromEntries(VARIANTS.map((v) => [v.name, []]));
  for (let i = 0; i < STARTS; i++) {
    for (const v of VARIANTS) {
      const p = await v.start(upstream.port);
      const cpu = cpuMs(p.pid);
      await sleep(1000);
      runs[v.name].push({ readyMs: p.readyMs, cpu, rss: rss(p.pid) });
      p.child.kill('SIGKILL');
      await new Promise((resolve) => (p.child.exitCode === null && p.child.signalCode === null ? p.child.once('exit', resolve) : resolve()));
    }
  }
  console.log(`Start-up — ${STARTS} fresh starts each, interleaved, medians (Node ${process.version}); pinned to one core\n`);
  console.log('| process | spawn → ready ms | CPU to ready ms | RSS idle MiB |');
  console.log('|---|---:|---:|---:|');
  for (const v of VARIANTS) {
    const r = runs[v.name];
    console.log(`| ${v.name} | ${Math.round(median(r.map((x) => x.readyMs)))} | ${median(r.map((x) => x.cpu))} | ${median(r.map((x) => x.rss)).toFixed(1)} |`);
  }
} finally {
  await stopAll();
}
