// Benchmark v0: the sidecar against a direct connection and a bare http-proxy-3 proxy, in one run,
// interleaved round by round so drift on the machine hits all three alike.
//   npm run bench          (BENCH_SECONDS=5 BENCH_ROUNDS=3 by default)
// Throughput: autocannon, 50 connections, as fast as possible. Latency: a fixed 1,000 req/s
// (autocannon's overallRate), so the percentiles are not flattered by a saturated closed loop.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

const ROOT = path.resolve(import.meta.dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const children = [];

function start(args, onLine) {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: onLine === 'stderr' ? child.stderr : child.stdout });
    rl.on('line', (line) => {
      if (onLine === 'stderr') {
        try { const e = JSON.parse(line); if (e.msg === 'listening') resolve({ child, port: e.ports.outbound }); } catch {}
      } else if (/^\d+$/.test(line)) resolve({ child, port: Number(line) });
    });
    (onLine === 'stderr' ? child.stdout : child.stderr).resume();
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
}

function run(port, opts) {
  return autocannon({ url: `http://127.0.0.1:${port}/bench`, headers: { host: 'bench' }, duration: SECONDS, ...opts });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

try {
  const upstream = await start(['bench/servers.mjs', 'upstream']);
  const bare = await start(['bench/servers.mjs', 'bare', String(upstream.port)]);
  const dir = mkdtempSync(path.join(tmpdir(), 'pilotfish-bench-'));
  const policy = path.join(dir, 'policy.yaml');
  writeFileSync(policy, `version: 1
listeners:
  outbound: { port: 0, address: 127.0.0.1 }
  inbound: { port: 0, address: 127.0.0.1 }
  telemetry: { port: 0, address: 127.0.0.1 }
upstreams:
  bench: { endpoints: [{ address: "127.0.0.1:${upstream.port}" }] }
routes:
  - { name: bench, match: { host: bench, path: { prefix: / } }, to: [{ upstream: bench }] }
`);
  const sidecar = await start(['dist/cli/main.js', 'run', '--policy', policy], 'stderr');
  const targets = { direct: upstream.port, 'http-proxy-3': bare.port, pilotfish: sidecar.port };
  const results = Object.fromEntries(Object.keys(targets).map((k) => [k, { rps: [], p50: [], p99: [] }]));
  for (const port of Object.values(targets)) await run(port, { connections: 10, duration: 1 }); // warm-up
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, port] of Object.entries(targets)) {
      const t = await run(port, { connections: 50, pipelining: 1 });
      const l = await run(port, { connections: 50, overallRate: 1000 });
      results[name].rps.push(t.requests.average);
      results[name].p50.push(l.latency.p50);
      results[name].p99.push(l.latency.p99);
      if (t.non2xx || t.errors) console.error(`${name}: ${t.non2xx} non-2xx, ${t.errors} errors`);
      process.stderr.write(`round ${round} ${name}: ${Math.round(t.requests.average)} req/s, p50 ${l.latency.p50} ms, p99 ${l.latency.p99} ms\n`);
    }
  }
  const row = (name) => ({ rps: median(results[name].rps), p50: median(results[name].p50), p99: median(results[name].p99) });
  const d = row('direct');
  const b = row('http-proxy-3');
  const lines = [
    `Pilotfish benchmark v0 — ${SECONDS}s x ${ROUNDS} rounds (medians), Node ${process.version}`,
    '',
    '| target | req/s @50 conns | vs direct | vs http-proxy-3 | p50 ms @1k rps | p99 ms @1k rps |',
    '|---|---|---|---|---|---|',
  ];
  for (const name of Object.keys(targets)) {
    const r = row(name);
    lines.push(`| ${name} | ${Math.round(r.rps)} | ${(r.rps / d.rps).toFixed(2)} | ${(r.rps / b.rps).toFixed(2)} | ${r.p50} | ${r.p99} |`);
  }
  lines.push('', `pilotfish RSS after the run: ${rss(sidecar.child.pid).toFixed(0)} MiB`);
  console.log(lines.join('\n'));
} finally {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? once(c, 'exit') : undefined)));
}
