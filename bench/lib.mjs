// Shared pieces of the benchmarks: child processes that print their port, autocannon runs, a
// one-route policy, medians. Every benchmark measures processes on loopback only.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const children = [];
const dirs = [];

/**
 * Starts `node args…`; resolves with its port (a number on stdout, or the sidecar's `listening` log).
 * A sidecar's stdout (its access log) goes to a file, as a container runtime stores it: drained by
 * this process, the log would take its CPU from the load generator running here.
 */
export function start(args, { sidecar = false, env = {}, stdoutFile } = {}) {
  const out = stdoutFile ? openSync(stdoutFile, 'w') : 'pipe';
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', out, 'pipe'], env: { ...process.env, ...env } });
  if (typeof out === 'number') closeSync(out);
  children.push(child);
  return new Promise((resolve, reject) => {
    createInterface({ input: sidecar ? child.stderr : child.stdout }).on('line', (line) => {
      if (sidecar) {
        try { const e = JSON.parse(line); if (e.msg === 'listening') resolve({ child, port: e.ports.outbound }); } catch {}
      } else if (/^\d+$/.test(line)) resolve({ child, port: Number(line) });
    });
    (sidecar ? child.stdout : child.stderr)?.resume();
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
}

/** Every listener on 127.0.0.1 port 0: the `listening` log line says which ports were bound. */
export const LISTENERS = `listeners:
  outbound: { port: 0, address: 127.0.0.1 }
  inbound: { port: 0, address: 127.0.0.1 }
  admin: { port: 0 }
  telemetry: { port: 0, address: 127.0.0.1 }
`;

export function sidecar(upstreamPort, { args = [], env = {} } = {}) {
  return sidecarWithPolicy(`version: 1
${LISTENERS}upstreams:
  bench: { endpoints: [{ address: "127.0.0.1:${upstreamPort}" }] }
routes:
  - { name: bench, match: { host: bench, path: { prefix: / } }, to: [{ upstream: bench }] }
`, args, env);
}

/** `pilotfish run` on the given policy text (written to a temporary file); resolves with its outbound port. */
export function sidecarWithPolicy(text, args = [], env = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'pilotfish-bench-'));
  dirs.push(dir);
  const policy = path.join(dir, 'policy.yaml');
  writeFileSync(policy, text);
  return start(['dist/cli/main.js', 'run', '--policy', policy, ...args], { sidecar: true, env, stdoutFile: path.join(dir, 'access.log') });
}

export function run(port, opts) {
  return autocannon({ url: `http://127.0.0.1:${port}/bench`, headers: { host: 'bench' }, duration: SECONDS, ...opts });
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

/** CPU time (user + system, ms) a process has used so far, from /proc. */
export function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
}

/**
 * Interleaved rounds over `targets` ({ name: { port, pid } }, `pid` the process serving the port):
 * throughput at 50 connections, latency at 1k rps, and the serving process's CPU per request during
 * the throughput run. A shared 2-core machine drifts by ±30% between runs seconds apart, so besides
 * each target's median the rounds keep their own figures: `table` divides within a round and reports
 * the median of those ratios. Within a round the throughput runs go back to back (the latency runs
 * after them), in reverse order every other round, so a drift that lasts a round hits every target
 * alike instead of whichever came last.
 */
export async function measure(targets) {
  const results = Object.fromEntries(Object.keys(targets).map((k) => [k, { rps: [], p50: [], p99: [], cpu: [] }]));
  // Warm-up at full load: the sidecar has far more code for V8 to optimise than a bare proxy, and a
  // 1 s warm-up at 10 connections left its first round measuring the JIT (364 vs ~210 µs/request).
  for (const { port } of Object.values(targets)) await run(port, { connections: 50, duration: 3 });
  for (let round = 1; round <= ROUNDS; round++) {
    const order = Object.entries(targets);
    if (round % 2 === 0) order.reverse();
    for (const [name, { port, pid }] of order) {
      const cpu0 = cpuMs(pid);
      const t = await run(port, { connections: 50 });
      const r = results[name];
      r.rps.push(t.requests.average);
      r.cpu.push(((cpuMs(pid) - cpu0) * 1000) / t.requests.total);
      if (t.non2xx || t.errors) console.error(`${name}: ${t.non2xx} non-2xx, ${t.errors} errors`);
    }
    for (const [name, { port }] of order) {
      const l = await run(port, { connections: 50, overallRate: 1000 });
      const r = results[name];
      r.p50.push(l.latency.p50);
      r.p99.push(l.latency.p99);
      process.stderr.write(`round ${round} ${name}: ${Math.round(r.rps.at(-1))} req/s, ${Math.round(r.cpu.at(-1))} µs CPU/req, p50 ${l.latency.p50} ms, p99 ${l.latency.p99} ms\n`);
    }
  }
  return results;
}

/** Median ratio of two targets' figures over the rounds, each round divided by itself. */
function pairedRatio(a, b) {
  return median(a.map((x, i) => x / b[i]));
}

export function table(results, baselines) {
  const names = Object.keys(baselines);
  const lines = [
    `| target | req/s @50 conns | ${names.map((n) => `vs ${n}`).join(' | ')} | CPU µs/req | ${names.map((n) => `CPU vs ${n}`).join(' | ')} | p50 ms @1k rps | p99 ms @1k rps |`,
    `|---|---|${names.map(() => '---|').join('')}---|${names.map(() => '---|').join('')}---|---|`,
  ];
  for (const [name, r] of Object.entries(results)) {
    const cpu = median(r.cpu);
    lines.push(`| ${name} | ${Math.round(median(r.rps))} | ${names.map((n) => pairedRatio(r.rps, results[baselines[n]].rps).toFixed(2)).join(' | ')} | ${Math.round(cpu)} | `
      + `${names.map((n) => pairedRatio(r.cpu, results[baselines[n]].cpu).toFixed(2)).join(' | ')} | ${median(r.p50)} | ${median(r.p99)} |`);
  }
  return lines.join('\n');
}

export async function stopAll() {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? once(c, 'exit') : undefined)));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

/** A started process as `measure` wants it. */
export const target = (p) => ({ port: p.port, pid: p.child.pid });
