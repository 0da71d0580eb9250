// The data-plane benchmark: Pilotfish against a direct connection, a bare undici proxy and a bare
// http-proxy-3 proxy, in one run and by one method (docs/benchmarks.md):
//   npm run bench     BENCH_ROUNDS=3 BENCH_SECONDS=4 BENCH_FOOTPRINT_SECONDS=10 BENCH_ENGINES=undici,node,http-proxy-3
// 1. Footprint, on fresh processes: start → ready, RSS idle, after a c50 load and after a c500 load.
// 2. Interleaved rounds: throughput (wrk -t1 -c50) with the serving process's CPU per request, then
//    open-loop latency (bench/open-loop.mjs, measured from the intended send time) at 1,000 req/s
//    and at half of bare undici's maximum.
// 3. Sidecars: the V8 heap after a forced full collection (bench/heap.mjs), once after the rounds
//    and after each of several more c50 loads (flat = nothing accumulates).
// Every proxy runs pinned to one core; wrk, the generator, the upstream and this script on the other.
// Ratios are medians of per-round ratios. To add a row, add an entry to ALL_TARGETS.
import { freePort, heapAfterGc, inspectPortFlag } from './heap.mjs';
import {
  measure, median, notOk, pairedRatio, pinnedBench, rss, sidecar, start, stopAll, table, target, wrk, LOAD_CORE, PROXY_CORE, ROUNDS, SECONDS, SIDECAR_V8_FLAGS,
} from './lib.mjs';

pinnedBench();

const ENGINES = (process.env.BENCH_ENGINES ?? 'undici,node,http-proxy-3').split(',').filter(Boolean);
const FOOTPRINT_SECONDS = Number(process.env.BENCH_FOOTPRINT_SECONDS ?? 10);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);

/** What is measured, in table order: a name and how to start it against the upstream's port. */
const ALL_TARGETS = [
  { name: 'bare undici', start: (up) => start(['bench/servers.mjs', 'bare-undici', String(up)], { core: PROXY_CORE }) },
  { name: 'bare http-proxy-3', start: (up) => start(['bench/servers.mjs', 'bare', String(up)], { core: PROXY_CORE }) },
  ...ENGINES.map((engine) => ({ name: `pilotfish full (${engine})`, sidecar: true, start: (up) => inspectable(up, 'full', engine) })),
  { name: `pilotfish one-route (${ENGINES[0]})`, sidecar: true, start: (up) => inspectable(up, 'one-route', ENGINES[0]) },
  { name: `pilotfish one-route + rate limit (${ENGINES[0]})`, sidecar: true, start: (up) => inspectable(up, 'one-route-ratelimit', ENGINES[0]) },
  // An A/B row for the allocator setting the sidecar runs with (SIDECAR_ENV: MALLOC_ARENA_MAX=1): without it, glibc keeps a malloc arena per thread.
  { name: `pilotfish full (${ENGINES[0]}, glibc's default arenas)`, sidecar: true, optIn: true, start: (up) => inspectable(up, 'full', ENGINES[0], { MALLOC_ARENA_MAX: undefined }) },
];
const BARE_UNDICI = 'bare undici';
const BARE_HP3 = 'bare http-proxy-3';
/**
 * `BENCH_ONLY` (comma-separated substrings of target names) runs a subset, for a focused A/B with
 * more rounds, e.g. `BENCH_ONLY=one-route BENCH_ROUNDS=15`; bare undici is always kept (the baseline).
 * `optIn` rows (A/B experiments) run only when `BENCH_ONLY` names them, e.g. `BENCH_ONLY=full` or `=arenas`.
 */
const ONLY = (process.env.BENCH_ONLY ?? '').split(',').filter(Boolean);
const TARGETS = ALL_TARGETS.filter((t) => (ONLY.length === 0 && !t.optIn) || t.name === BARE_UNDICI || ONLY.some((o) => t.name.includes(o)));
const BARE_BASELINES = Object.fromEntries([BARE_UNDICI, BARE_HP3].filter((n) => TARGETS.some((t) => t.name === n)).map((n) => [n, n]));

try {
  const upstream = await start(['bench/servers.mjs', 'upstream'], { core: LOAD_CORE });
  const started = {};
  const footprint = {};
  for (const t of TARGETS) {
    const p = (started[t.name] = await t.start(upstream.port));
    footprint[t.name] = await measureFootprint(p);
    process.stderr.write(`footprint ${t.name}: ${JSON.stringify(footprint[t.name])}\n`);
  }
  const targets = { direct: target(upstream), ...Object.fromEntries(TARGETS.map((t) => [t.name, target(started[t.name])])) };
  const halfMax = (results) => median(results[BARE_UNDICI].rps) / 2;
  const rows = await measure(targets, { latency: [1000, halfMax] });
  const half = Math.round(halfMax(rows));
  for (const t of TARGETS.filter((x) => x.sidecar)) footprint[t.name].heaps = await heapAcrossLoads(started[t.name]);

  console.log(`Pilotfish benchmark — ${ROUNDS} rounds × ${SECONDS} s, medians (ratios: median of per-round ratios), Node ${process.version}`);
  console.log('Proxies pinned to one core; wrk, the open-loop generator and the upstream on the other.\n');
  console.log('Throughput (wrk -t1 -c50) and CPU per request of the serving process:\n');
  console.log(table(rows, BARE_BASELINES));
  console.log(`\nLatency, open loop (from the intended send time), ms — at 1,000 req/s and at ${half} req/s (half of bare undici's maximum):\n`);
  console.log(latencyTable(rows, half));
  console.log(`\nFootprint (fresh processes; loads of ${FOOTPRINT_SECONDS} s; heap after a full GC, after the rounds and after each of ${REPEATS} more c50 loads of ${FOOTPRINT_SECONDS / 2} s):\n`);
  console.log(footprintTable(footprint));
  console.log(`\n${checks(rows, footprint).join('\n')}`);
  for (const t of TARGETS.filter((x) => x.sidecar)) {
    const bad = notOk(started[t.name].accessLog);
    if (bad) console.log(`${t.name}: answers other than 200 in its access log: ${bad}`);
  }
} finally {
  await stopAll();
}

/** A sidecar started so that its heap can be read after a forced GC (`bench/heap.mjs`). */
async function inspectable(upstreamPort, policy, engine, env = {}) {
  const inspectPort = await freePort();
  const p = await sidecar(upstreamPort, { policy, args: ['--engine', engine], env, nodeArgs: [...SIDECAR_V8_FLAGS, inspectPortFlag(inspectPort)] });
  return { ...p, inspectPort };
}

/** Start → ready, RSS idle / after c50 / after c500. */
async function measureFootprint(p) {
  await settle(1000);
  const f = { readyMs: Math.round(p.readyMs), idle: rss(p.pid) };
  await wrk(p.port, { connections: 50, seconds: FOOTPRINT_SECONDS });
  await settle(1000);
  f.c50 = rss(p.pid);
  await wrk(p.port, { connections: 500, seconds: FOOTPRINT_SECONDS });
  await settle(1000);
  f.c500 = rss(p.pid);
  return f;
}

/** The heap after a full GC now (after the rounds), then after each of REPEATS more c50 loads. */
async function heapAcrossLoads(p) {
  const heaps = [await heapAfterGc(p.pid, p.inspectPort)];
  for (let i = 0; i < REPEATS; i++) {
    await wrk(p.port, { connections: 50, seconds: FOOTPRINT_SECONDS / 2 });
    heaps.push(await heapAfterGc(p.pid, p.inspectPort));
  }
  return heaps;
}

function settle(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function mib(x) {
  return x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(0);
}

function latencyTable(rows, half) {
  const direct = median(rows.direct.latency[0].p50);
  const added = (name) => median(rows[name].latency[0].p50) - direct;
  const lines = [
    `| target | p50 @1k | p99 @1k | added p50 @1k | added p50 vs bare undici | p50 @${half} | p99 @${half} | p99/p50 @${half} |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [name, r] of Object.entries(rows)) {
    const [k, h] = r.latency;
    const ratio = name === 'direct' ? '' : (added(name) / added(BARE_UNDICI)).toFixed(2);
    lines.push(`| ${name} | ${median(k.p50)} | ${median(k.p99)} | ${name === 'direct' ? '' : added(name).toFixed(2)} | ${ratio} | ${median(h.p50)} | ${median(h.p99)} | ${(median(h.p99) / median(h.p50)).toFixed(1)} |`);
  }
  return lines.join('\n');
}

function footprintTable(footprint) {
  const lines = [
    '| target | start → ready ms | RSS idle MiB | RSS after c50 | RSS after c500 | heap after GC MiB: after the rounds, after each repeat |',
    '|---|---:|---:|---:|---:|---|',
  ];
  for (const [name, f] of Object.entries(footprint)) {
    lines.push(`| ${name} | ${f.readyMs} | ${mib(f.idle)} | ${mib(f.c50)} | ${mib(f.c500)} | ${f.heaps ? f.heaps.map((h) => h.toFixed(1)).join(', ') : '–'} |`);
  }
  return lines.join('\n');
}

/** The issue-14 targets, each with the figure that decides it. */
function checks(rows, footprint) {
  const out = ['Targets (full policy, each engine):'];
  const mark = (ok) => (ok ? 'met' : 'MISSED');
  const direct = median(rows.direct.latency[0].p50);
  const addedBare = median(rows[BARE_UNDICI].latency[0].p50) - direct;
  for (const name of Object.keys(rows).filter((n) => n.startsWith('pilotfish full'))) {
    const r = rows[name];
    const tput = pairedRatio(r.rps, rows[BARE_UNDICI].rps);
    const cpu = pairedRatio(r.cpu, rows[BARE_UNDICI].cpu);
    const added = (median(r.latency[0].p50) - direct) / addedBare;
    const h = r.latency[1];
    const queue = median(h.p99) / median(h.p50);
    // A queue shows as a long tail (p99 ≥ 10 × p50) or, when the proxy cannot keep the rate at all,
    // as every request waiting: p50 itself ten times what it is at 1,000 req/s.
    const queued = queue >= 10 || median(h.p50) >= 10 * median(r.latency[0].p50);
    const f = footprint[name];
    out.push(`  ${name}: throughput ${tput.toFixed(2)}× bare undici (≥ 0.8: ${mark(tput >= 0.8)}), CPU/req ${cpu.toFixed(2)}× (≤ 1.25: ${mark(cpu <= 1.25)}), `
      + `added p50 @1k ${added.toFixed(2)}× (≤ 1.5: ${mark(added <= 1.5)}), at half max p50 ${median(h.p50)} ms, p99/p50 ${queue.toFixed(1)} (no queue: ${mark(!queued)}), `
      + `RSS ${mib(f.idle)}/${mib(f.c50)}/${mib(f.c500)} MiB (≤ 70/100/160: ${mark(f.idle <= 70 && f.c50 <= 100 && f.c500 <= 160)}), ready ${f.readyMs} ms (< 300: ${mark(f.readyMs < 300)})`);
  }
  const oneRoute = Object.keys(rows).find((n) => n.startsWith('pilotfish one-route ('));
  const limited = Object.keys(rows).find((n) => n.startsWith('pilotfish one-route + rate limit'));
  if (oneRoute && limited) {
    const extra = pairedRatio(rows[limited].cpu, rows[oneRoute].cpu) - 1;
    out.push(`  local rate limit: CPU/req ${(extra * 100).toFixed(1)}% over the same route without one (≤ 3%: ${mark(extra <= 0.03)})`);
  }
  return out;
}
