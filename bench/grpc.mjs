// The gRPC benchmark (SPEC §11): unary calls through the sidecar (h2c in, `protocol: http2` out)
// against the same calls straight to the gRPC server, by the house method (bench/lib.mjs):
//   npm run bench:grpc     BENCH_ROUNDS=5 BENCH_SECONDS=4 BENCH_GRPC_CLIENTS=10 BENCH_GRPC_STREAMS=10
// The load is h2load (nghttp2-client) on the load core, sending a real gRPC request (a framed Echo
// message, content-type application/grpc, te: trailers) on BENCH_GRPC_CLIENTS connections with
// BENCH_GRPC_STREAMS streams each; the sidecar runs pinned to the proxy core, the grpc-js server on
// the load core. Per round and target: calls/s, CPU per call of the serving process (/proc), and
// p50/p99 from h2load's per-request log. Ratios are medians of per-round ratios.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cpuMs, median, notOk, pairedRatio, pinnedBench, rss, sidecar, start, stopAll, LOAD_CORE, ROUNDS, SECONDS } from './lib.mjs';

pinnedBench();
if (spawnSync('h2load', ['--version']).error) {
  process.stderr.write('bench:grpc needs h2load (apt-get install nghttp2-client)\n');
  process.exit(2);
}
const CLIENTS = Number(process.env.BENCH_GRPC_CLIENTS ?? 10);
const STREAMS = Number(process.env.BENCH_GRPC_STREAMS ?? 10);
const dir = mkdtempSync(path.join(tmpdir(), 'pilotfish-bench-grpc-'));

/** One Echo request as gRPC puts it on the wire: flag 0, 4-byte length, the protobuf (text = "bench", n = 1). */
const message = Buffer.from([0x0a, 0x05, ...Buffer.from('bench'), 0x10, 0x01]);
const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
const dataFile = path.join(dir, 'unary.bin');
writeFileSync(dataFile, frame);

const policy = (port) => `upstreams:
  echo: { protocol: http2, endpoints: [{ address: "127.0.0.1:${port}" }] }
routes:
  - { name: echo, to: [{ upstream: echo }] }
`;

async function h2load(port, round, name) {
  const log = path.join(dir, `${name.replace(/\W+/g, '-')}-${round}.log`);
  const args = ['-c', String(CLIENTS), '-m', String(STREAMS), '-D', String(SECONDS), '-d', dataFile, '--log-file', log,
    '-H', 'content-type: application/grpc', '-H', 'te: trailers', `http://127.0.0.1:${port}/pilotfish.test.Echo/Unary`];
  const child = spawn('taskset', ['-c', String(LOAD_CORE), 'h2load', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  await once(child, 'exit');
  const done = Number(/requests: \d+ total, \d+ started, (\d+) done/.exec(out)?.[1] ?? NaN);
  const ok = Number(/(\d+) succeeded/.exec(out)?.[1] ?? NaN);
  const micros = readFileSync(log, 'utf8').trim().split('\n').map((l) => Number(l.split('\t')[2])).filter(Number.isFinite).sort((a, b) => a - b);
  rmSync(log, { force: true });
  const pct = (p) => (micros.length ? micros[Math.min(micros.length - 1, Math.floor(p * micros.length))] / 1000 : NaN);
  return { rps: done / SECONDS, done, failed: done - ok, p50: pct(0.5), p99: pct(0.99) };
}

try {
  const upstream = await start(['bench/grpc-server.mjs'], { core: LOAD_CORE });
  const pf = await sidecar(upstream.port, { policy });
  const targets = { direct: upstream, pilotfish: pf };
  const results = Object.fromEntries(Object.keys(targets).map((k) => [k, { rps: [], cpu: [], p50: [], p99: [] }]));
  for (const [name, t] of Object.entries(targets)) await h2load(t.port, 0, `${name}-warmup`);
  for (let round = 1; round <= ROUNDS; round++) {
    const order = Object.entries(targets);
    if (round % 2 === 0) order.reverse();
    for (const [name, t] of order) {
      const cpu0 = cpuMs(t.pid);
      const r = await h2load(t.port, round, name);
      const row = results[name];
      row.rps.push(r.rps);
      row.cpu.push(((cpuMs(t.pid) - cpu0) * 1000) / r.done);
      row.p50.push(r.p50);
      row.p99.push(r.p99);
      if (r.failed) process.stderr.write(`${name}: ${r.failed} calls not answered 2xx\n`);
      process.stderr.write(`round ${round} ${name}: ${Math.round(r.rps)} calls/s, ${Math.round(row.cpu.at(-1))} µs CPU/call, p50/p99 ${r.p50}/${r.p99} ms\n`);
    }
  }
  console.log(`Pilotfish gRPC benchmark — unary calls, ${ROUNDS} rounds × ${SECONDS} s, h2load -c${CLIENTS} -m${STREAMS}, medians, Node ${process.version}\n`);
  console.log('| target | calls/s | vs direct | CPU µs/call (serving process) | p50 ms | p99 ms | RSS MiB after |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const [name, r] of Object.entries(results)) {
    console.log(`| ${name} | ${Math.round(median(r.rps))} | ${pairedRatio(r.rps, results.direct.rps).toFixed(2)} | ${Math.round(median(r.cpu))} | ${median(r.p50).toFixed(2)} | ${median(r.p99).toFixed(2)} | ${Math.round(rss(targets[name].pid))} |`);
  }
  const bad = notOk(pf.accessLog);
  if (bad) console.log(`\npilotfish: answers other than 200 in its access log: ${bad}`);
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
