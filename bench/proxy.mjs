// Benchmark v0: the sidecar (on each forwarding engine) against a direct connection and a bare
// http-proxy-3 proxy, in one run, interleaved round by round so drift on the machine hits all alike.
//   npm run bench          (BENCH_SECONDS=4 BENCH_ROUNDS=7 by default)
// Throughput: autocannon, 50 connections, as fast as possible. Latency: a fixed 1,000 req/s
// (autocannon's overallRate), so the percentiles are not flattered by a saturated closed loop.
// The sidecar runs as `pilotfish run` with its defaults (metrics and the access log on, tracing off).
// Ratios are medians of per-round ratios; CPU µs/req is the serving process's CPU time per request
// during the throughput runs (for `direct`, the upstream's own) — the steadier figure on a shared box.
import { measure, rss, sidecar, start, stopAll, table, target, ROUNDS, SECONDS } from './lib.mjs';

try {
  const upstream = await start(['bench/servers.mjs', 'upstream']);
  const bare = await start(['bench/servers.mjs', 'bare', String(upstream.port)]);
  const pf = await sidecar(upstream.port);
  const pfNode = await sidecar(upstream.port, { args: ['--engine', 'node'] });
  const rows = await measure({ direct: target(upstream), 'http-proxy-3': target(bare), pilotfish: target(pf), 'pilotfish --engine node': target(pfNode) });
  console.log(`Pilotfish benchmark v0 — ${SECONDS}s x ${ROUNDS} rounds (medians; ratios: median of per-round ratios), Node ${process.version}\n`);
  console.log(table(rows, { direct: 'direct', 'http-proxy-3': 'http-proxy-3' }));
  console.log(`\npilotfish RSS after the run: ${rss(pf.child.pid).toFixed(0)} MiB (--engine node: ${rss(pfNode.child.pid).toFixed(0)} MiB)`);
} finally {
  await stopAll();
}
