// Fleet propagation: N real `pilotfish run --fleet` processes (default 20) on one redis-server; 50
// rounds of a publish (blue → green) and a rollback (green → blue). Each flip is timed from the
// publish (or rollback) call returning to every sidecar answering a request on the new policy,
// polled through each sidecar's outbound port; every poll must succeed — the flip costs the
// sidecars' traffic nothing. Prints p50/p99/max of the flip (slowest sidecar) and of each sidecar's
// own catch-up, and the sidecars' CPU per flip, told apart from their idle baseline.
//   npm run bench:fleet        (BENCH_SIDECARS=20, BENCH_ROUNDS=50)
import { readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { blueGreen, cpuMs, sidecarWithPolicy, stopAll } from './lib.mjs';
import { RedisServer } from '../dist/chaos/redis-server.js';
import { RedisLink } from '../dist/fleet/redis.js';
import { FleetStore } from '../dist/fleet/store.js';
import { publishable } from '../dist/fleet/publishable.js';
import { rollback } from '../dist/fleet/rollback.js';

const SIDECARS = Number(process.env.BENCH_SIDECARS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 50);
const KEY = 'bench';
const IDLE_MS = 3000;
/**
 * How long after the youngest sidecar started the rounds may begin, ms (BENCH_SETTLE_S, default 20).
 * V8's memory reducer runs two mark-compacts in a new process once it allocates little, looking
 * first 8 s after the start and, if the process was busy then, 8 s later (about 30 ms of pause and
 * as much of marking steps each, per sidecar): in a fleet started within a few seconds on the same
 * two cores, twenty sidecars' collections land on the same flips — the benchmark's p99 was those
 * flips (BENCH_TRACE=1 shows them). The rounds measure sidecars past their start; BENCH_SETTLE_S=0
 * measures the start-up collections with them.
 */
const SETTLE_MS = 1000 * Number(process.env.BENCH_SETTLE_S ?? 20);
/**
 * Requests through every sidecar before the rounds (BENCH_WARM, default 3,000 each), and as many
 * straight to each upstream: the rounds measure sidecars and deployments that have served traffic,
 * as a fleet's have. Without it the first ten or so flips were the
 * slow ones (polls spending 100–180 ms inside sidecars whose request path was still interpreted,
 * and the polling process's own cold code and GC): BENCH_TRACE=1 showed flips 0–10 at 140–385 ms
 * and two of the other 89 over 100 ms. 500 was not enough either: the request path was still below
 * Maglev, and the rounds' polls took ~150 of its functions there in one flip (the 4th or 5th in
 * bench/fleet-tierup.mjs, none after 3,000), in all twenty sidecars at once.
 */
const WARM_POLLS = Number(process.env.BENCH_WARM ?? 3000);
/**
 * BENCH_TRACE=1: the sidecars log at debug level — each flip's steps in its `fleet: flip` line (push
 * received, parsed, validated, built, swapped) and when its report was written — and the benchmark
 * prints where a flip's wall time goes across the sidecars (each step's spread over all flips, cold
 * and warm apart, and the median flip sidecar by sidecar), whether the polling process lags, and
 * each slow flip (over 2× the median) taken apart per sidecar — ms after the publish call returned.
 */
const TRACE = process.env.BENCH_TRACE === '1';
/**
 * BENCH_PREFLIPS=N (a diagnostic; default 0): N unmeasured flips (rounded up to even, so the rounds
 * still start from blue) before the settle — the flip path taken through V8's tiers first. The
 * default measures cold flips, as a fleet that flips rarely has them; the difference is what the
 * tier-up storm of the first flips costs (bench/fleet-tierup.mjs).
 */
const PREFLIPS = 2 * Math.ceil(Number(process.env.BENCH_PREFLIPS ?? 0) / 2);
/** Wall clock with sub-ms precision, comparable with the sidecars' log times (ms). */
const wall = () => performance.timeOrigin + performance.now();
/**
 * The p-th percentile by nearest rank: the smallest sample with at least p% of the samples at or
 * below it (index ceil(p·n/100) − 1), as HdrHistogram and wrk report it. Of 100 flips, p99 is the
 * 99th slowest and max the slowest, printed apart.
 */
const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.max(0, Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1))];

/** In trace mode: wall times the upstreams received a request, and the poller process's GC pauses. */
const arrivals = { blue: [], green: [] };
const gcs = [];
if (TRACE) new PerformanceObserver((list) => { for (const e of list.getEntries()) gcs.push({ start: performance.timeOrigin + e.startTime, ms: e.duration, kind: e.detail?.kind }); }).observe({ entryTypes: ['gc'] });
/** In trace mode: this process's event-loop delay within each flip (does the poller itself lag?). */
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
if (TRACE) loopDelay.enable();
/**
 * BENCH_OTHER=1: the sidecars also route a second service (host `api` → upstream gray) and serve it
 * traffic before the rounds, as a pod that calls more than one service does; the flips still move
 * `web` only. Without it each sidecar has sent to one upstream alone before flip 1.
 */
const OTHER = process.env.BENCH_OTHER === '1';
const flip = await blueGreen({ ...(TRACE ? { onRequest: (color, at) => arrivals[color].push(at) } : {}), other: OTHER });
const { policy } = flip;

/** One keep-alive connection per sidecar, as an application's pool would hold. */
function poller(port, host = 'web') {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = () => new Promise((resolve) => {
    get.sentAt = wall();
    http.get({ host: '127.0.0.1', port, headers: { host }, agent }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 ? body : `status ${res.statusCode}`));
      res.on('error', (err) => resolve(`error ${err.code ?? err.message}`));
    }).on('error', (err) => resolve(`error ${err.code ?? err.message}`));
  });
  return { get, close: () => agent.destroy() };
}

const redis = await RedisServer.start();
const link = await RedisLink.open(redis.url, { name: 'bench' });
if (!await link.whenReady(5000)) throw new Error(`redis not reachable: ${link.lastError}`);
const store = new FleetStore(link, KEY);
const stats = { requests: 0, failures: [] };
const pollers = [];
/** Per sidecar: fleet generation → its `fleet: flip` marks (received … swapped) and `reported` (wall ms, from its log). */
const traces = [];
/** Per sidecar, in trace mode: its access log's file (each poll's end time and duration inside the sidecar). */
const accessLogs = [];
/** Per sidecar, in trace mode: when it was spawned (wall ms), the origin of its --trace-gc times (V8 counts from its start, ±20 ms). */
const spawnedAt = [];
function traceLog(i, child) {
  createInterface({ input: child.stderr }).on('line', (line) => {
    let e;
    try { e = JSON.parse(line); } catch { return; }
    if (e.fleetGeneration === undefined) return;
    const m = traces[i];
    const t = m.get(e.fleetGeneration) ?? {};
    if (e.msg === 'fleet: flip') Object.assign(t, { received: e.received, parsed: e.parsed, validated: e.validated, built: e.built, swapped: e.swapped });
    else if (e.msg === 'fleet: reported') t.reported ??= e.at;
    m.set(e.fleetGeneration, t);
  });
}
try {
  // Start in batches of 5: twenty processes booting at once on two cores would time out each other.
  const ports = [];
  const pids = [];
  let youngest = 0;
  for (let i = 0; i < SIDECARS; i += 5) {
    const spawned = wall();
    youngest = performance.now();
    const batch = await Promise.all(Array.from({ length: Math.min(5, SIDECARS - i) }, () => sidecarWithPolicy(policy('blue'), ['--fleet', redis.url, '--fleet-key', KEY, ...(TRACE ? ['--log-level', 'debug'] : ['--no-access-log'])], {}, TRACE ? ['--trace-gc'] : [])));
    if (TRACE) spawnedAt.push(...batch.map(() => spawned));
    if (TRACE) for (const s of batch) traceLog(traces.length, s.child), traces.push(new Map()), accessLogs.push(s.accessLog);
    ports.push(...batch.map((s) => s.port));
    pids.push(...batch.map((s) => s.pid));
  }
  pollers.push(...ports.map((port) => poller(port)));
  // Each color's document is validated once (as `pilotfish publish` does before it writes): parsing it
  // again every round made garbage in this process, whose collections delay every poll.
  const documents = { blue: publishable(policy('blue')), green: publishable(policy('green')) };
  const publish = async (color) => {
    const r = await store.publish({ ...documents[color], publishedBy: 'bench', message: color, rollbackOf: null });
    if (!r.ok) throw new Error('conflict');
    return r.generation.generation;
  };
  /** Polls every sidecar until it answers `want`; each sidecar's catch-up time, ms after t0. */
  const converge = (want, t0) => Promise.all(pollers.map(async (p) => {
    for (let polls = 1; ; polls++) {
      const body = await p.get();
      stats.requests++;
      if (body === want) { p.seen = { sent: p.get.sentAt, at: wall(), polls }; return performance.now() - t0; }
      if (body !== 'blue' && body !== 'green') stats.failures.push(body);
      if (performance.now() - t0 > 10_000) throw new Error(`a sidecar did not serve ${want} within 10 s`);
    }
  }));
  await publish('blue');
  await converge('blue', performance.now());
  // Traffic first, as sidecars in a running fleet have served (their request path compiled, not
  // interpreted); their flip path stays as cold as a fleet's, which flips rarely. The settle then
  // counts from the end of it: a busy sidecar's memory reducer looks again 8 s later.
  // The upstreams too, straight (not through a sidecar), one connection per sidecar each: green is
  // the deployment a flip sends to, and a deployment is up and serving (health checks, its own
  // warm-up) before traffic is shifted to it. Without it the first flip timed green's own first
  // requests — its code interpreted, twenty connections accepted at once: BENCH_TRACE=1 had the
  // first green request reach it 82 ms after the call returned and flip 1 take 142 ms.
  const direct = Object.values(flip.ports).flatMap((port) => ports.map(() => poller(port)));
  const api = OTHER ? ports.map((port) => poller(port, 'api')) : [];
  for (let i = 0; i < WARM_POLLS; i++) await Promise.all([...pollers, ...api, ...direct].map((p) => p.get()));
  for (const p of [...direct, ...api]) p.close();
  for (let i = 0; i < PREFLIPS; i++) {
    const color = i % 2 === 0 ? 'green' : 'blue';
    await publish(color);
    await converge(color, performance.now());
  }
  const warmed = performance.now();
  await new Promise((r) => setTimeout(r, Math.max(0, Math.max(youngest, warmed) + SETTLE_MS - performance.now())));

  const flips = { publish: [], rollback: [] };
  const cpuOf = () => pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
  // The sidecars' CPU while nothing happens (their timers, the event-loop monitor, GC): part of
  // what the rounds cost that no flip causes, told apart below.
  const idle0 = cpuOf();
  const idleT0 = performance.now();
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const idlePerMs = (cpuOf() - idle0) / (performance.now() - idleT0);
  const cpu0 = cpuOf();
  const rounds0 = performance.now();
  const perSidecar = [];
  /** Per flip: this process's event-loop utilization and CPU (the pollers and the upstreams share its one thread). */
  const self = [];
  /** Per flip: its kind, generation, wall time the call returned, and what each poller saw. */
  const log = [];
  const flipTo = async (kind, color, call) => {
    const c0 = wall();
    const generation = await call();
    const t0 = performance.now();
    const w0 = wall();
    const elu0 = performance.eventLoopUtilization();
    if (TRACE) loopDelay.reset();
    const cpu0 = process.cpuUsage();
    const times = await converge(color, t0);
    const elu = performance.eventLoopUtilization(elu0).utilization;
    const lag = TRACE ? loopDelay.max / 1e6 : 0;
    const cpu = process.cpuUsage(cpu0);
    flips[kind].push(Math.max(...times));
    perSidecar.push(...times);
    self.push({ elu, cpu: (cpu.user + cpu.system) / 1000 });
    if (TRACE) log.push({ index: log.length, kind, generation, callMs: w0 - c0, w0, total: Math.max(...times), elu, lag, benchCpu: (cpu.user + cpu.system) / 1000, seen: pollers.map((p) => p.seen) });
  };
  for (let round = 0; round < ROUNDS; round++) {
    await flipTo('publish', 'green', () => publish('green'));
    await flipTo('rollback', 'blue', async () => {
      const r = await rollback(store, undefined, 'bench');
      if (r.kind !== 'published') throw new Error(`rollback: ${JSON.stringify(r)}`);
      return r.generation.generation;
    });
  }
  // The sidecars' CPU over the rounds: applying each flip, serving the polls, their timers.
  const cpuPerFlip = (cpuOf() - cpu0) / (2 * ROUNDS * SIDECARS);
  const idlePerFlip = (idlePerMs * (performance.now() - rounds0)) / (2 * ROUNDS * SIDECARS);
  const line = (name, xs) => `${name.padEnd(30)} p50 ${q(xs, 50).toFixed(1).padStart(6)} ms   p99 ${q(xs, 99).toFixed(1).padStart(6)} ms   max ${Math.max(...xs).toFixed(1).padStart(6)} ms   (${xs.length})`;
  const all = [...flips.publish, ...flips.rollback];
  console.log(`fleet propagation: ${SIDECARS} sidecars, ${ROUNDS} publishes + ${ROUNDS} rollbacks (load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, ${os.cpus().length} cores)`);
  console.log(line('every sidecar on the new policy', all));
  console.log(line('  after a publish', flips.publish));
  console.log(line('  after a rollback', flips.rollback));
  // The first flips run the flip path cold (interpreted, its inline caches empty): told apart.
  const inOrder = flips.publish.flatMap((x, k) => [x, flips.rollback[k]]);
  if (inOrder.length > 10) {
    console.log(line('  flips 1–10 (cold flip path)', inOrder.slice(0, 10)));
    console.log(line(`  flips 11–${inOrder.length} (warm)`, inOrder.slice(10)));
  }
  const slowest = inOrder.map((ms, k) => ({ ms, flip: k + 1 })).sort((a, b) => b.ms - a.ms).slice(0, 3);
  console.log(`  slowest flips: ${slowest.map((s) => `flip ${s.flip} (${s.flip % 2 ? 'publish' : 'rollback'}) ${s.ms.toFixed(1)} ms`).join(', ')}`);
  console.log(line('one sidecar on the new policy', perSidecar));
  console.log(`CPU per sidecar per flip: ${cpuPerFlip.toFixed(1)} ms (${(cpuPerFlip * SIDECARS).toFixed(0)} ms across the fleet, ${os.cpus().length} cores), of which ${idlePerFlip.toFixed(1)} ms its idle baseline (${(idlePerMs * 1000 / SIDECARS).toFixed(1)} ms per second per sidecar, measured over ${IDLE_MS / 1000} s before the rounds) and ${(cpuPerFlip - idlePerFlip).toFixed(1)} ms the flip and the polls`);
  console.log(`this process (${SIDECARS} pollers, one thread; the upstreams are processes of their own) per flip: p50 ${q(self.map((x) => x.cpu), 50).toFixed(1)} ms CPU, event loop busy p50 ${(100 * q(self.map((x) => x.elu), 50)).toFixed(0)}% p90 ${(100 * q(self.map((x) => x.elu), 90)).toFixed(0)}% of the flip's wall time`);
  console.log(`traffic during the flips: ${stats.requests} requests through the sidecars, ${stats.failures.length} failed${stats.failures.length ? ` (${[...new Set(stats.failures)].slice(0, 5).join(', ')})` : ''}`);
  console.log(`target: p99 < 100 ms for 20 sidecars: ${q(all, 99) < 100 ? 'met' : 'NOT met'} on this run`);
  if (TRACE) { traceSteps(log); traceSlow(log, q(all, 50)); }
  if (stats.failures.length > 0) process.exitCode = 1;
} finally {
  for (const p of pollers) p.close();
  await stopAll();
  await link.close();
  await redis.stop();
  flip.close();
}

/** The flips over 2× the median, each with its three latest sidecars taken apart (ms after the call returned). */
function traceSlow(log, median) {
  // A sidecar's stdout (its file) has its access log and, from --trace-gc, its GC pauses.
  const sidecarGcs = [];
  const access = accessLogs.map((file, i) => {
    const polls = [];
    const pauses = [];
    for (const l of readFileSync(file, 'utf8').split('\n')) {
      if (l.startsWith('{')) {
        const e = JSON.parse(l);
        const end = Date.parse(e.time);
        polls.push({ start: end - e.duration, end, upstream: e.upstream, status: e.status });
      } else {
        const m = /^\[\d+:[^\]]*\]\s+(\d+) ms: (\S+(?: \(reduce\))?)[^,]*, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ ([\d.]+) ms/.exec(l);
        if (m) pauses.push({ i, start: spawnedAt[i] + Number(m[1]), kind: m[2], ms: Number(m[3]), why: /current mu = [\d.]+\) (.*)$/.exec(l)?.[1] ?? '' });
      }
    }
    sidecarGcs.push(pauses);
    return polls;
  });
  const gcsIn = (from, to) => sidecarGcs.map((ps, i) => ps.filter((g) => g.start + g.ms >= from - 20 && g.start <= to + 20)).flat();
  const majors = sidecarGcs.flat().filter((g) => g.kind.startsWith('Mark'));
  const flipAt = (t) => log.findLastIndex((f) => f.w0 - f.callMs <= t);
  console.log(`trace: the sidecars' Mark-Compacts: ${majors.sort((a, b) => a.start - b.start).map((g) => `#${g.i} ${g.kind} ${g.ms.toFixed(0)} ms in flip ${flipAt(g.start)} (${g.why})`).join(', ')}`);
  console.log(`trace: the sidecars' GC over the run: ${sidecarGcs.flat().length} pauses, ${majors.length} of them Mark-Compact (${majors.reduce((a, g) => a + g.ms, 0).toFixed(0)} ms); per flip, the pauses within it (±20 ms): median ${q(log.map((f) => gcsIn(f.w0, f.w0 + f.total).length), 50)}`);
  const slow = log.filter((f) => f.total > 2 * median);
  const avg = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`trace: this process (the pollers) per flip: event loop ${(100 * avg(log.map((f) => f.elu))).toFixed(0)}% busy, ${avg(log.map((f) => f.benchCpu)).toFixed(1)} ms CPU; ${gcs.length} GC pauses over the run, ${gcs.reduce((a, g) => a + g.ms, 0).toFixed(0)} ms`);
  console.log(`trace: ${slow.length} flips over 2× the median (${(2 * median).toFixed(1)} ms); per sidecar: push received / swapped / poll sent / poll answered, ms after the call returned`);
  const f1 = (x) => (x === undefined ? '   ?' : x.toFixed(0).padStart(4));
  for (const f of slow) {
    const rows = f.seen.map((s, i) => ({ i, s, t: traces[i]?.get(f.generation) ?? {} })).sort((a, b) => b.s.at - a.s.at);
    console.log(`  flip ${f.index} (${f.kind}, g${f.generation}): ${f.total.toFixed(1)} ms (the call took ${f.callMs.toFixed(1)} ms; this process: event loop ${(100 * f.elu).toFixed(0)}% busy, ${f.benchCpu.toFixed(1)} ms CPU)`);
    for (const r of rows.slice(0, 3)) {
      console.log(`    sidecar ${String(r.i).padStart(2)}: push ${f1(r.t.received - f.w0)}  swapped ${f1(r.t.swapped - f.w0)}  poll sent ${f1(r.s.sent - f.w0)}  answered ${f1(r.s.at - f.w0)}`);
      const polls = access[r.i].filter((a) => a.end >= f.w0 - 5 && a.start <= r.s.at + 1);
      console.log(`      in the sidecar: ${polls.map((a) => `${a.upstream} ${f1(a.start - f.w0)}→${f1(a.end - f.w0)}`).join(', ')}`);
    }
    const end = f.w0 + f.total;
    const up = [...arrivals.blue, ...arrivals.green].filter((t) => t >= f.w0 && t <= end).sort((a, b) => a - b);
    const gaps = up.map((t, k) => t - (up[k - 1] ?? f.w0));
    const widest = gaps.indexOf(Math.max(...gaps));
    console.log(`    upstreams: ${up.length} requests, widest gap between arrivals ${f1(gaps[widest])} ms ending at ${f1(up[widest] - f.w0)}; poller GC: ${gcs.filter((g) => g.start + g.ms >= f.w0 && g.start <= end).map((g) => `${g.ms.toFixed(1)} ms at ${f1(g.start - f.w0)}`).join(', ') || 'none'}`);
    const inFlip = gcsIn(f.w0, end);
    console.log(`    sidecars' GC within it: ${inFlip.length ? inFlip.map((g) => `#${g.i} ${g.kind} ${g.ms.toFixed(1)} ms at ${f1(g.start - f.w0)}`).join(', ') : 'none'}`);
    const pushes = rows.map((r) => r.t.received - f.w0).filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
    const applies = rows.map((r) => r.t.swapped - f.w0).filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
    if (pushes.length) console.log(`    all ${rows.length}: push received ${f1(pushes[0])}…${f1(pushes.at(-1))}, swapped ${f1(applies[0])}…${f1(applies.at(-1))}`);
  }
}

/**
 * Where a flip's wall time goes, across the sidecars: for every sidecar in every flip, when the push
 * reached it and how long each step took (from its `fleet: flip` marks), when the poll that saw the
 * new policy was answered, and when its report was written — ms, after the publish call returned
 * unless said otherwise. Each as p50 / p90 / max over the sidecar-flips, cold (flips 1–10) and warm
 * apart; then the median flip sidecar by sidecar, latest first; then the polling process's own lag.
 */
function traceSteps(log) {
  const STEPS = [
    ['push received (after the call returned)', (t, f) => t.received - f.w0],
    ['  parse the pushed document', (t) => t.parsed - t.received],
    ['  parsed → validated', (t) => t.validated - t.parsed],
    ['  validated → built', (t) => t.built - t.validated],
    ['  built → swapped', (t) => t.swapped - t.built],
    ['push received → swapped', (t) => t.swapped - t.received],
    ['swapped (after the call returned)', (t, f) => t.swapped - f.w0],
    ['swapped → poll answered on it', (t, f, s) => s.at - t.swapped],
    ['poll answered (after the call returned)', (t, f, s) => s.at - f.w0],
    ['swapped → report written', (t) => t.reported - t.swapped],
  ];
  const rowsOf = (f) => f.seen.map((s, i) => ({ i, s, t: traces[i]?.get(f.generation) ?? {} }));
  const fmt = (xs) => (xs.length ? `${q(xs, 50).toFixed(1).padStart(6)} ${q(xs, 90).toFixed(1).padStart(6)} ${Math.max(...xs).toFixed(1).padStart(6)}` : '     (no marks)     ');
  const groups = [['flips 1–10', log.slice(0, 10)], [`flips 11–${log.length}`, log.slice(10)]].filter(([, g]) => g.length);
  console.log(`trace: where a flip's time goes, per sidecar (ms; p50 p90 max over sidecar-flips): ${groups.map(([n]) => n.padEnd(20)).join(' ')}`);
  for (const [name, fn] of STEPS) {
    const cols = groups.map(([, g]) => fmt(g.flatMap((f) => rowsOf(f).map((r) => fn(r.t, f, r.s)).filter((x) => Number.isFinite(x)))));
    console.log(`  ${name.padEnd(42)} ${cols.join('   ')}`);
  }
  const missing = log.flatMap((f) => rowsOf(f)).filter((r) => r.t.swapped === undefined).length;
  if (missing) console.log(`  (${missing} sidecar-flips without marks: applied from a read of the store, not from the push)`);
  const polls = log.flatMap((f) => f.seen.map((s) => s.polls));
  console.log(`  polls per sidecar per flip until it answered the new policy: p50 ${q(polls, 50)}, p90 ${q(polls, 90)}, max ${Math.max(...polls)}`);
  const sorted = [...log].sort((a, b) => a.total - b.total);
  const mid = sorted[Math.floor(sorted.length / 2)];
  console.log(`trace: the median flip, ${mid.index} (${mid.kind}, ${mid.total.toFixed(1)} ms), sidecar by sidecar, latest answer first: received parsed validated built swapped | poll sent answered (polls) | reported, ms after the call returned`);
  const f1 = (x) => (x === undefined || Number.isNaN(x) ? '     ?' : x.toFixed(1).padStart(6));
  for (const r of rowsOf(mid).sort((a, b) => b.s.at - a.s.at)) {
    const at = (x) => f1(x - mid.w0);
    console.log(`  sidecar ${String(r.i).padStart(2)}: ${at(r.t.received)} ${at(r.t.parsed)} ${at(r.t.validated)} ${at(r.t.built)} ${at(r.t.swapped)} | ${at(r.s.sent)} ${at(r.s.at)} (${r.s.polls}) | ${at(r.t.reported)}`);
  }
  const lag = log.map((f) => f.lag);
  console.log(`trace: the polling process within a flip: event-loop delay max p50 ${q(lag, 50).toFixed(1)} ms, p90 ${q(lag, 90).toFixed(1)} ms, max ${Math.max(...lag).toFixed(1)} ms; event loop busy p50 ${(100 * q(log.map((f) => f.elu), 50)).toFixed(0)}%; its CPU per flip p50 ${q(log.map((f) => f.benchCpu), 50).toFixed(1)} ms`);
}
