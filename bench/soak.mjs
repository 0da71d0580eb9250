// The soak (issue 13.6): a real `pilotfish run` under a steady open-loop rate through a policy with
// every resilience feature on, for N minutes (default 10), while
//   - the policy is reloaded every 10 s (alternately by the file watcher and POST /reload; every
//     other reload also redefines the mirror's upstream, so its old state must be disposed),
//   - a runtime fault (503 on 20% of tries) is added and removed every 30 s,
//   - one endpoint is killed and restarted every minute (killed at :05, back at :20).
// Each minute it prints the sidecar's RSS, heap used, open file descriptors and active handles; at
// the end their slopes, and every failed request the faults do not explain. Exit 1 on any
// unexplained failure.
//
//   npm run bench:soak [-- --minutes N] [-- --rate R]     (also SOAK_MINUTES, SOAK_RATE)
import http from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LISTENERS, ROOT, start, stopAll } from './lib.mjs';

const arg = (name, fallback) => {
  const argv = process.argv.slice(2);
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i >= 0) return Number(argv[i].includes('=') ? argv[i].split('=')[1] : argv[i + 1]);
  return Number(process.env[`SOAK_${name.toUpperCase()}`] ?? process.env[`npm_config_${name}`] ?? fallback);
};
const MINUTES = arg('minutes', 10);
const RATE = arg('rate', 100);
const RELOAD_EVERY = 10_000;
const FAULT_EVERY = 30_000;
const MINUTE = 60_000;
const KILL_AT = 5_000;
const RESTART_AT = 20_000;
/** A failure this close to a kill, a restart or a fault change is put down to it. */
const GRACE = 3_000;

const { FakeFleet } = await import(path.join(ROOT, 'dist/chaos/fake-fleet.js'));
const { SIDECAR_V8_FLAGS } = await import(path.join(ROOT, 'dist/cli/v8-flags.js'));

const fleet = await FakeFleet.start({
  reviews: { replicas: 3, labels: {}, latency: { min: 1, max: 5 }, bodySize: 256, healthPath: '/healthz' },
  shadow: { replicas: 1, labels: {}, latency: { min: 1, max: 3 }, bodySize: 64, healthPath: '/healthz' },
});
const table = fleet.table();
const eps = (name) => table[name].map((e) => `{ address: "${e.address}" }`).join(', ');

const dir = mkdtempSync(path.join(tmpdir(), 'pilotfish-soak-'));
const policyFile = path.join(dir, 'policy.yaml');
const policy = (generation) => `version: 1
${LISTENERS}overload: { shedAbove: 90, resumeBelow: 80 }
upstreams:
  reviews:
    endpoints: [${eps('reviews')}]
    loadBalancer: least-request
    connectionPool: { maxConnections: 256, maxPendingRequests: 1024, connectTimeout: 250ms, idleTimeout: 4s }
    healthCheck: { path: /healthz, interval: 1s, timeout: 500ms, unhealthyThreshold: 2, healthyThreshold: 1 }
    outlierDetection: { consecutive5xx: 5, consecutiveGatewayErrors: 2, interval: 1s, baseEjectionTime: 5s, maxEjectionPercent: 34 }
    circuitBreaker: { errorThresholdPercentage: 95, volumeThreshold: 200, rollingWindow: 5s, resetTimeout: 2s }
  shadow:
    endpoints: [${eps('shadow')}]
    connectionPool: { idleTimeout: ${generation % 2 === 0 ? '4s' : '3s'} }
routes:
  - name: sticky
    match: { host: reviews, headers: { x-user: { present: true } } }
    to: [{ upstream: reviews }]
    sticky: { header: x-user }
    timeout: 3s
    retries: { attempts: 2, perTryTimeout: 1s, retryOn: [5xx, reset, connect-failure], backoff: { base: 5ms, max: 50ms }, budget: { percent: 50, minPerSecond: 20 } }
  - name: reviews
    match: { host: reviews }
    to: [{ upstream: reviews }]
    timeout: 3s
    retries: { attempts: 2, perTryTimeout: 1s, retryOn: [5xx, reset, connect-failure], backoff: { base: 5ms, max: 50ms }, budget: { percent: 50, minPerSecond: 20 } }
    mirror: { upstream: shadow, percent: 10 }
    headers: { request: { set: { x-soak-generation: "${generation}" } }, response: { set: { x-served-by: pilotfish } } }
`;
writeFileSync(policyFile, policy(0));

const { child, ports: listening } = await start(['dist/cli/main.js', 'run', '--policy', policyFile], { sidecar: true, nodeArgs: SIDECAR_V8_FLAGS, stdoutFile: path.join(dir, 'access.log') });
const pid = child.pid;

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const call = (port, method, p, body) => new Promise((resolve) => {
  const req = http.request({ host: '127.0.0.1', port, method, path: p, agent: false, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
    let text = '';
    res.on('data', (c) => { text += c; });
    res.on('end', () => resolve({ status: res.statusCode, text }));
  });
  req.on('error', (e) => resolve({ status: 0, text: e.message }));
  req.end(body);
});
const metric = (text, name) => {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
};

// ---- the events the faults cause, to explain failures by ----
const t0 = performance.now();
const now = () => performance.now() - t0;
const events = []; // { at, what }
const note = (what) => events.push({ at: now(), what });

// ---- load ----
let seq = 0;
const stats = { sent: 0, ok: 0, failed: 0, explained: 0 };
const causes = new Map();
const unexplained = [];
function send() {
  const i = seq++;
  const sticky = i % 4 === 0;
  const at = now();
  stats.sent++;
  const req = http.request({
    host: '127.0.0.1', port: listening.outbound, path: `/soak/${i % 97}`, agent,
    headers: { host: 'reviews', ...(sticky ? { 'x-user': `u${i % 50}` } : {}) },
  }, (res) => {
    res.on('data', () => {});
    res.on('error', () => settle(at, 0, 'response aborted', ''));
    res.on('end', () => settle(at, res.statusCode, '', String(res.headers['x-pilotfish-flags'] ?? '')));
  });
  req.setTimeout(5000, () => req.destroy(new Error('client timeout')));
  req.on('error', (e) => settle(at, 0, e.code ?? e.message, ''));
  req.end();
}
let settled = 0;
function settle(at, status, error, flags) {
  settled++;
  if (status >= 200 && status < 400) { stats.ok++; return; }
  stats.failed++;
  const cause = explain(at, status, flags);
  if (cause) { stats.explained++; causes.set(cause, (causes.get(cause) ?? 0) + 1); return; }
  if (unexplained.length < 200) unexplained.push({ at: Math.round(at), status, error, flags });
}
/** The fault that accounts for a failure, if one does. */
function explain(at, status, flags) {
  if (flags.includes('FI')) return 'runtime fault';
  const near = events.filter((e) => at >= e.at - GRACE && at <= e.at + GRACE + 5000);
  if (near.some((e) => e.what.startsWith('kill') || e.what.startsWith('restart')) && /UF|UC|URX|UH|UT/.test(flags)) return 'endpoint killed';
  void status;
  return undefined;
}

// Open loop: requests are sent on a timetable, whatever the answers do.
const interval = 1000 / RATE;
let nextSend = performance.now();
const load = setInterval(() => {
  const until = performance.now();
  while (nextSend <= until) { send(); nextSend += interval; }
}, 5);

// ---- the faults ----
let generation = 0;
let faultId;
const timers = [];
timers.push(setInterval(async () => {
  generation++;
  writeFileSync(policyFile, policy(generation));
  if (generation % 2 === 0) await call(listening.admin, 'POST', '/reload');
  note(`reload ${generation}`);
}, RELOAD_EVERY));
timers.push(setInterval(async () => {
  if (faultId) {
    await call(listening.admin, 'DELETE', `/faults/${faultId}`);
    faultId = undefined;
    note('fault off');
  } else {
    const r = await call(listening.admin, 'POST', '/faults', JSON.stringify({ upstream: 'reviews', on: 'attempt', abort: { status: 503, percent: 20 }, ttl: '45s' }));
    faultId = JSON.parse(r.text).id;
    note('fault on');
  }
}, FAULT_EVERY));
let victim = 0;
const killCycle = async () => {
  const ref = { upstream: 'reviews', index: victim, text: `reviews[${victim}]` };
  await sleep(KILL_AT);
  await fleet.kill(ref);
  note(`kill reviews[${victim}]`);
  await sleep(RESTART_AT - KILL_AT);
  await fleet.restart(ref);
  note(`restart reviews[${victim}]`);
  victim = (victim + 1) % 3;
};
void killCycle();
timers.push(setInterval(() => void killCycle(), MINUTE));

// ---- the sidecar's resources, each minute ----
const samples = [];
async function sample(minute) {
  const text = (await call(listening.telemetry, 'GET', '/metrics')).text;
  let rss = NaN;
  let fds = NaN;
  try { rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024; } catch {}
  try { fds = readdirSync(`/proc/${pid}/fd`).length; } catch {}
  const s = {
    minute, rss: rss || metric(text, 'process_resident_memory_bytes'), heap: metric(text, 'nodejs_heap_size_used_bytes'),
    fds: fds || metric(text, 'process_open_fds'), handles: metric(text, 'nodejs_active_handles_total'),
    generation: metric(text, 'pilotfish_config_generation'), ...stats,
  };
  samples.push(s);
  const mb = (b) => (b / 1048576).toFixed(1).padStart(7);
  console.log(`${String(minute).padStart(3)}  ${String(s.sent).padStart(8)} ${String(s.ok).padStart(8)} ${String(s.failed).padStart(6)} ${String(s.failed - s.explained).padStart(6)}  ${mb(s.rss)} ${mb(s.heap)} ${String(s.fds).padStart(5)} ${String(s.handles).padStart(7)} ${String(s.generation).padStart(5)}`);
}

console.log(`soak: ${MINUTES} min at ${RATE} req/s; sidecar pid ${pid} (engine ${process.env.PILOTFISH_ENGINE ?? 'default'}); reload every ${RELOAD_EVERY / 1000}s, fault toggle every ${FAULT_EVERY / 1000}s, an endpoint killed and restarted every minute`);
console.log('min      sent       ok failed unexpl   rss MiB heap MiB   fds handles   gen');
await sample(0);
for (let m = 1; m <= MINUTES; m++) {
  await sleep(MINUTE - (now() % MINUTE));
  await sample(m);
}

// ---- wind down ----
clearInterval(load);
for (const t of timers) clearInterval(t);
const deadline = performance.now() + 10_000;
while (settled < stats.sent && performance.now() < deadline) await sleep(50);

/** Least-squares slope of `key` per minute over the samples from minute `from` on. */
function slope(key, from = 1) {
  const pts = samples.filter((s) => s.minute >= from).map((s) => [s.minute, s[key]]);
  const n = pts.length;
  if (n < 2) return NaN;
  const mx = pts.reduce((a, [x]) => a + x, 0) / n;
  const my = pts.reduce((a, [, y]) => a + y, 0) / n;
  const num = pts.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = pts.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return num / den;
}
// V8 grows its heap for the first few minutes of load (young generation, code): the second half of
// the run is the steady state a leak would show in.
const half = Math.max(1, Math.ceil(MINUTES / 2));
const range = (key, from) => {
  const v = samples.filter((s) => s.minute >= from).map((s) => s[key]);
  return [Math.min(...v), Math.max(...v)];
};
console.log(`\nslopes per minute (least squares): over minutes 1…${MINUTES}, and over ${half}…${MINUTES} (after warm-up)`);
for (const [key, unit, div] of [['rss', 'MiB', 1048576], ['heap', 'MiB', 1048576], ['fds', '', 1], ['handles', '', 1]]) {
  const [lo, hi] = range(key, 1);
  const [lo2, hi2] = range(key, half);
  const f = (x) => (x / div).toFixed(div === 1 ? 0 : 1);
  console.log(`  ${key.padEnd(8)} ${(slope(key) / div).toFixed(3).padStart(8)} ${unit}/min (range ${f(lo)}–${f(hi)})   ${(slope(key, half) / div).toFixed(3).padStart(8)} ${unit}/min (range ${f(lo2)}–${f(hi2)})`);
}
console.log(`\nrequests ${stats.sent}, ok ${stats.ok}, failed ${stats.failed}: ${stats.explained} explained by the faults, ${stats.failed - stats.explained} not; unanswered at the end ${stats.sent - settled}`);
console.log(`explained: ${[...causes].map(([c, n]) => `${n} by the ${c}`).join(', ') || 'none needed'}`);
console.log(`faults: ${events.filter((e) => e.what.startsWith('reload')).length} reloads, ${events.filter((e) => e.what === 'fault on').length} fault episodes, ${events.filter((e) => e.what.startsWith('kill')).length} kills`);
for (const u of unexplained) console.log(`  unexplained at ${(u.at / 1000).toFixed(1)}s: status ${u.status} ${u.error} flags ${u.flags || '-'}`);

agent.destroy();
await stopAll();
await fleet.close();
rmSync(dir, { recursive: true, force: true });
process.exit(stats.failed - stats.explained > 0 || stats.sent - settled > 0 ? 1 : 0);
