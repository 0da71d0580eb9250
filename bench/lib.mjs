// Shared pieces of the benchmarks: child processes pinned to a core, wrk runs, the open-loop
// generator, the sidecar's policies, CPU and RSS from /proc, medians and tables. Every benchmark
// measures processes on loopback only.
//
// Cores: the proxies (what is measured) run on PROXY_CORE; the load generators, the upstream and this
// orchestrator on LOAD_CORE, so the figures are of one proxy core, as a sidecar's CPU limit is.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const children = [];
const dirs = [];

const canPin = cpus().length >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
export const PROXY_CORE = 0;
export const LOAD_CORE = 1;

/**
 * Pins this orchestrator to the load core (with wrk and the generator) and checks for wrk: what the
 * pinned benchmarks (`proxy`, `telemetry`) call first.
 */
export function pinnedBench() {
  if (canPin) spawnSync('taskset', ['-pc', String(LOAD_CORE), String(process.pid)]);
  else process.stderr.write('bench: taskset or a second core is missing: nothing is pinned, figures mix load and proxy CPU\n');
  if (spawnSync('wrk', ['--version']).error) {
    process.stderr.write('bench: needs wrk (apt-get install wrk)\n');
    process.exit(2);
  }
}

/** `cmd args…` pinned to `core` when pinning works. */
function pinned(core, cmd, args) {
  return canPin ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];
}

/**
 * Starts `node [nodeArgs…] args…`, pinned to `core` when one is given; resolves with its port (a number on stdout, or the
 * sidecar's `listening` log) and the time it took to get there. A sidecar's stdout (its access log)
 * goes to a file, as a container runtime stores it: drained here, the log would take load-core CPU.
 */
export function start(args, { sidecar = false, env = {}, stdoutFile, core, nodeArgs = [] } = {}) {
  if (sidecar) assertBundled(path.resolve(ROOT, args[0]));
  const out = stdoutFile ? openSync(stdoutFile, 'w') : 'pipe';
  const [cmd, argv] = core === undefined ? [process.execPath, [...nodeArgs, ...args]] : pinned(core, process.execPath, [...nodeArgs, ...args]);
  const t0 = performance.now();
  const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', out, 'pipe'], env: { ...process.env, ...env } });
  if (typeof out === 'number') closeSync(out);
  children.push(child);
  return new Promise((resolve, reject) => {
    createInterface({ input: sidecar ? child.stderr : child.stdout }).on('line', (line) => {
      if (sidecar) {
        try {
          const e = JSON.parse(line);
          if (e.msg === 'listening') resolve({ child, pid: child.pid, port: e.ports.outbound, telemetryPort: e.ports.telemetry, ports: e.ports, readyMs: performance.now() - t0 });
        } catch {}
      } else if (/^\d+$/.test(line)) resolve({ child, pid: child.pid, port: Number(line), readyMs: performance.now() - t0 });
    });
    (sidecar ? child.stdout : child.stderr)?.resume();
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
}

/**
 * Throws unless `main` is the bundle rolldown writes (it imports its chunks from `../bundle/`). A build
 * stopped between its two steps (`tsc`, then `rolldown`) leaves tsc's unbundled entry point there: a
 * sidecar that works but loads ~440 files, about twice the start time and ~15 MiB more idle RSS, which
 * a bench would report as the sidecar's figures.
 */
const bundled = new Set();
function assertBundled(main) {
  if (bundled.has(main)) return;
  if (!readFileSync(main, 'utf8').includes('../bundle/')) {
    throw new Error(`${main} is tsc's unbundled output (a build stopped between tsc and rolldown?): run npm run build`);
  }
  bundled.add(main);
}

/** Every listener on 127.0.0.1 port 0 (bench/listeners.yaml, which the shell benchmarks cat too): the `listening` log line says which ports were bound. */
export const LISTENERS = readFileSync(path.join(ROOT, 'bench/listeners.yaml'), 'utf8');

/** Policies the bench runs the sidecar on; each routes Host `bench` to the upstream. */
export const POLICIES = {
  /** The defaults: one route, one upstream. */
  'one-route': (port) => `upstreams:
  bench: { endpoints: [{ address: "127.0.0.1:${port}" }] }
routes:
  - { name: bench, match: { host: bench, path: { prefix: / } }, to: [{ upstream: bench }] }
`,
  /**
   * One route with a local rate limit keyed by a header the load does not send (so one bucket),
   * generous enough that every request is admitted: what is measured is the limiter's price.
   */
  'one-route-ratelimit': (port) => `upstreams:
  bench: { endpoints: [{ address: "127.0.0.1:${port}" }] }
routes:
  - name: bench
    match: { host: bench, path: { prefix: / } }
    to: [{ upstream: bench }]
    rateLimit: { requests: 1000000000, per: 1s, key: x-api-key }
`,
  /**
   * What a mesh user turns on: least-request over a subset, outlier detection, a circuit breaker,
   * retries with a budget, a route timeout (metrics and the access log are on by default).
   */
  full: (port) => `upstreams:
  bench:
    endpoints: [{ address: "127.0.0.1:${port}", labels: { version: v1 } }]
    subsets: { v1: { version: v1 } }
    loadBalancer: least-request
    outlierDetection: { consecutive5xx: 5, interval: 10s }
    circuitBreaker: { errorThresholdPercentage: 50, volumeThreshold: 20 }
routes:
  - name: bench
    match: { host: bench, path: { prefix: / } }
    to: [{ upstream: bench, subset: v1 }]
    timeout: 5s
    retries: { attempts: 2, perTryTimeout: 2s, retryOn: [5xx, reset, connect-failure], budget: { percent: 20, minPerSecond: 10 } }
`,
};

export const { SIDECAR_ENV, SIDECAR_V8_FLAGS } = await import(new URL('../dist/cli/v8-flags.js', import.meta.url).href);

/**
 * `pilotfish run` on `policy` (a key of POLICIES or a function of the upstream port), pinned to the
 * proxy core and started as the container image starts it: node with the sidecar's V8 flags
 * (`nodeArgs` replaces them) and its environment (`SIDECAR_ENV`; `env` adds to it, and a variable
 * given as undefined there is left out). `listeners` replaces the LISTENERS block.
 */
export function sidecar(upstreamPort, { policy = 'one-route', args = [], env = {}, nodeArgs = SIDECAR_V8_FLAGS, listeners = LISTENERS } = {}) {
  const body = typeof policy === 'function' ? policy(upstreamPort) : POLICIES[policy](upstreamPort);
  return runSidecar(`version: 1\n${listeners}${body}`, { args, env: { ...SIDECAR_ENV, ...env }, nodeArgs, core: PROXY_CORE });
}

/**
 * `pilotfish run` on the given policy text (written to a temporary file), unpinned; resolves with its
 * outbound port. `nodeArgs` come after the sidecar's V8 flags, `env` over its environment.
 */
export function sidecarWithPolicy(text, args = [], env = {}, nodeArgs = []) {
  return runSidecar(text, { args, env: { ...SIDECAR_ENV, ...env }, nodeArgs: [...SIDECAR_V8_FLAGS, ...EXTRA_NODE_ARGS, ...nodeArgs] });
}

/** BENCH_NODE_ARGS: node flags added to every sidecar the bench starts, after ours (an experiment's V8 flags, say). */
const EXTRA_NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);

/**
 * Node's compile cache (src/cli/main.ts) for every sidecar the bench starts, warmed once as the image
 * warms it (Dockerfile): a start on the full policy that exits cleanly on SIGTERM, since a killed one
 * writes nothing — without this, each start would find whatever os.tmpdir()'s cache happened to hold.
 * BENCH_COMPILE_CACHE=cold starts them without one (NODE_DISABLE_COMPILE_CACHE=1).
 */
const COLD = process.env.BENCH_COMPILE_CACHE === 'cold';
let compileCache;
function warmCompileCache() {
  compileCache ??= (async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pilotfish-bench-cache-'));
    dirs.push(dir);
    const env = { ...SIDECAR_ENV, NODE_COMPILE_CACHE: dir };
    if (COLD) return { ...env, NODE_DISABLE_COMPILE_CACHE: '1' };
    const p = await runSidecarNow(`version: 1\n${LISTENERS}${POLICIES.full(9)}`, { env, nodeArgs: SIDECAR_V8_FLAGS });
    // A SIGTERM from `listening` on is held until the start is done, then drains: a clean exit.
    p.child.kill('SIGTERM');
    const [code] = await once(p.child, 'exit');
    if (code !== 0) throw new Error(`the compile-cache warm-up start exited with ${code}`);
    return env;
  })();
  return compileCache;
}

async function runSidecar(text, { env = {}, ...opts } = {}) {
  const cache = await warmCompileCache();
  return runSidecarNow(text, { ...opts, env: { NODE_COMPILE_CACHE: cache.NODE_COMPILE_CACHE, NODE_DISABLE_COMPILE_CACHE: cache.NODE_DISABLE_COMPILE_CACHE, ...env } });
}

function runSidecarNow(text, { args = [], env = {}, nodeArgs = [], core } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'pilotfish-bench-'));
  dirs.push(dir);
  const file = path.join(dir, 'policy.yaml');
  writeFileSync(file, text);
  // Not beside the policy: the sidecar watches its policy file's directory, and a log written there
  // would wake that watch on every line (a mounted ConfigMap's directory holds nothing else).
  mkdirSync(path.join(dir, 'log'));
  const accessLog = path.join(dir, 'log', 'access.log');
  return start(['dist/cli/main.js', 'run', '--policy', file, ...args], { sidecar: true, env, nodeArgs, core, stdoutFile: accessLog })
    .then((p) => ({ ...p, accessLog }));
}

/** Status and flags of the answers in a sidecar's access log that were not 200: why a run saw errors. */
export function notOk(accessLog) {
  const r = spawnSync('sh', ['-c', `grep -v '"status":200,' "$1" | grep -o '"status":[0-9]*,"flags":"[A-Z,]*"' | sort | uniq -c | sort -rn | head -5`, 'sh', accessLog], { encoding: 'utf8' });
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => l.trim()).join('; ');
}

/** wrk on the load core: closed loop at `connections`, as fast as the target answers. */
export async function wrk(port, { connections = 50, seconds = SECONDS } = {}) {
  const [cmd, argv] = pinned(LOAD_CORE, 'wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '-H', 'Host: bench', `http://127.0.0.1:${port}/bench`]);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  await once(child, 'exit');
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: (.*)/.exec(out)?.[1];
  return { rps, requests, non2xx, errors };
}

/** The open-loop generator on the load core at `rate` req/s: latency percentiles from the due time. */
export async function openLoop(port, rate, seconds = SECONDS) {
  const [cmd, argv] = pinned(LOAD_CORE, process.execPath, [path.join(ROOT, 'bench/open-loop.mjs'), String(port), String(Math.round(rate)), String(seconds)]);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  await once(child, 'exit');
  return JSON.parse(out);
}

export const median = (xs) => { const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };
export const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

/** CPU time (user + system, ms) a process has used so far, from /proc. */
export function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
}

const cpuOf = (pids) => pids.reduce((sum, p) => sum + cpuMs(p), 0);

/**
 * Interleaved rounds over `targets` ({ name: { port, pid, pids? } }, `pid` the process serving the
 * port; `pids`, when given, every process whose CPU counts, e.g. both sidecars of a mesh call):
 * throughput and CPU per request at 50 connections, then (when `latency` is given) open-loop latency
 * at each of its rates (numbers, or functions of the results so far). A shared machine drifts between
 * runs seconds apart, so each round keeps its own figures and `table` divides within a round; within
 * a round the runs go back to back, in reverse order every other round.
 */
export async function measure(targets, { latency = [] } = {}) {
  const results = Object.fromEntries(Object.keys(targets).map((k) => [k, { rps: [], cpu: [], latency: latency.map(() => ({ p50: [], p99: [] })) }]));
  // Warm-up at full load: the sidecar has far more code for V8 to optimise than a bare proxy.
  for (const { port } of Object.values(targets)) await wrk(port, { seconds: 3 });
  for (let round = 1; round <= ROUNDS; round++) {
    const order = Object.entries(targets);
    if (round % 2 === 0) order.reverse();
    for (const [name, { port, pid, pids = [pid] }] of order) {
      const cpu0 = cpuOf(pids);
      const t = await wrk(port);
      const r = results[name];
      r.rps.push(t.rps);
      r.cpu.push(((cpuOf(pids) - cpu0) * 1000) / t.requests);
      if (t.non2xx || t.errors) process.stderr.write(`${name}: ${t.non2xx} non-2xx, errors ${t.errors ?? 0}\n`);
    }
    for (const [i, rate] of latency.entries()) {
      const rps = typeof rate === 'function' ? rate(results) : rate;
      for (const [name, { port }] of order) {
        const l = await openLoop(port, rps);
        results[name].latency[i].p50.push(l.p50);
        results[name].latency[i].p99.push(l.p99);
        if (l.errors) process.stderr.write(`${name} @${Math.round(rps)} rps: ${l.errors} errors\n`);
      }
    }
    for (const [name] of order) {
      const r = results[name];
      const lat = r.latency.map((l) => `p50/p99 ${l.p50.at(-1)}/${l.p99.at(-1)} ms`).join(', ');
      process.stderr.write(`round ${round} ${name}: ${Math.round(r.rps.at(-1))} req/s, ${Math.round(r.cpu.at(-1))} µs CPU/req${lat ? `, ${lat}` : ''}\n`);
    }
  }
  return results;
}

/** Median ratio of two targets' figures over the rounds, each round divided by itself. */
export function pairedRatio(a, b) {
  return median(a.map((x, i) => x / b[i]));
}

/** Throughput and CPU per request, with ratios to each baseline ({ label: target name }). */
export function table(results, baselines) {
  const names = Object.keys(baselines);
  const lines = [
    `| target | req/s @50 conns | ${names.map((n) => `vs ${n}`).join(' | ')} | CPU µs/req | ${names.map((n) => `CPU vs ${n}`).join(' | ')} |`,
    `|---|---:|${names.map(() => '---:|').join('')}---:|${names.map(() => '---:|').join('')}`,
  ];
  for (const [name, r] of Object.entries(results)) {
    lines.push(`| ${name} | ${Math.round(median(r.rps))} | ${names.map((n) => pairedRatio(r.rps, results[baselines[n]].rps).toFixed(2)).join(' | ')} | ${Math.round(median(r.cpu))} | `
      + `${names.map((n) => pairedRatio(r.cpu, results[baselines[n]].cpu).toFixed(2)).join(' | ')} |`);
  }
  return lines.join('\n');
}

export async function stopAll() {
  // A child killed by a signal keeps exitCode null: signalCode says it has exited.
  const running = children.filter((c) => c.exitCode === null && c.signalCode === null);
  for (const c of running) c.kill('SIGTERM');
  await Promise.all(running.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : undefined)));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

/** A started process as `measure` wants it. */
export const target = (p) => ({ port: p.port, pid: p.pid });

/**
 * Two upstreams answering `blue` and `green`, and `policy(color)`: a whole policy text routing Host
 * `web` to one of them — the flip the fleet benchmarks publish and roll back. `close()` stops both.
 * `onRequest(color, wallMs)`, if given, is called as each request arrives (bench:fleet's trace).
 * Each upstream is a process of its own (`bench/servers.mjs text`): in the benchmark's process they
 * shared one thread with the pollers, and a flip's twenty upstream requests queued behind its twenty
 * poll answers there (and the reverse) — the instrument's lag, counted as the fleet's.
 */
export async function blueGreen({ onRequest, other = false } = {}) {
  const server = async (text) => {
    const p = await start(['bench/servers.mjs', 'text', text], { env: onRequest ? { BENCH_ARRIVALS: '1' } : {} });
    if (onRequest) createInterface({ input: p.child.stdout }).on('line', (l) => { if (l.startsWith('arrival ')) onRequest(text, Number(l.slice(8))); });
    return p;
  };
  const [blue, green, gray] = await Promise.all([server('blue'), server('green'), ...(other ? [server('gray')] : [])]);
  const policy = (color) => `version: 1
${LISTENERS}upstreams:
  blue: { endpoints: [{ address: "127.0.0.1:${blue.port}" }] }
  green: { endpoints: [{ address: "127.0.0.1:${green.port}" }] }
${gray ? `  gray: { endpoints: [{ address: "127.0.0.1:${gray.port}" }] }\n` : ''}routes:
  - { name: web, match: { host: web }, to: [{ upstream: ${color} }] }
${gray ? '  - { name: api, match: { host: api }, to: [{ upstream: gray }] }\n' : ''}`;
  const servers = [blue, green, ...(gray ? [gray] : [])];
  return { policy, ports: { blue: blue.port, green: green.port, ...(gray ? { gray: gray.port } : {}) }, close: () => { for (const s of servers) s.child.kill('SIGTERM'); } };
}
