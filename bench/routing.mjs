#!/usr/bin/env node
/**
 * Routing micro-benchmark (issue 3): compile a policy of 10,000 routes — mixed exact / prefix / regex
 * paths, exact, wildcard and absent hosts, header, method and query conditions — and time single
 * decisions over many random requests (hits of every kind and misses). Targets: p99 < 20 µs per
 * decision, compile < 1 s.
 *
 *   npm run build && node --expose-gc bench/routing.mjs
 *   PILOTFISH_ROUTING_DIST=/tmp/pf-routing-dist/routing/index.js node bench/routing.mjs
 *
 * Each decision is timed on its own (performance.now, ~40 ns of overhead included); "bulk mean" is
 * the untimed average. Requests are 20,000 distinct objects visited in turn — a cold-cache workload,
 * pessimistic next to production traffic, where a few routes are hot.
 *
 * Options (env): BENCH_ROUTES (10000), BENCH_DECISIONS (300000), BENCH_SEED (1).
 * Deterministic: the same seed builds the same policy and the same request stream.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const distEntry = process.env.PILOTFISH_ROUTING_DIST
  ? pathToFileURL(process.env.PILOTFISH_ROUTING_DIST).href
  : new URL('../dist/routing/index.js', import.meta.url).href;
const { compileRouter, createLoadBalancer, stickyBucket } = await import(distEntry);

const ROUTES = Number(process.env.BENCH_ROUTES ?? 10_000);
const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 300_000);
const SEED = Number(process.env.BENCH_SEED ?? 1);

function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(SEED);
const int = (n) => Math.floor(rnd() * n);
const pick = (xs) => xs[int(xs.length)];

const HOSTS = Array.from({ length: 400 }, (_, i) => `svc-${i}.ns-${i % 20}.svc.cluster.local`);
const ZONES = Array.from({ length: 20 }, (_, i) => `zone-${i}.example.com`);
const WORDS = ['api', 'users', 'orders', 'items', 'reviews', 'ratings', 'cart', 'search', 'static', 'admin', 'v1', 'v2', 'v3'];
const segment = () => `${pick(WORDS)}${int(50)}`;

/**
 * One route and a generator of request paths it matches. `hostless` routes everything into one host
 * bucket: the worst case for the indexes (nothing is filtered by host first).
 */
function makeRoute(i, hostless) {
  const match = {};
  const h = rnd();
  let host;
  if (!hostless) {
    if (h < 0.85) host = match.host = pick(HOSTS);
    else if (h < 0.92) { const z = pick(ZONES); match.host = `*.${z}`; host = `pod-${int(9)}.${z}`; }
  }
  const base = `/${segment()}/${segment()}`;
  const k = rnd();
  let path;
  if (k < 0.45) { match.path = { exact: `${base}/${segment()}` }; path = () => match.path.exact; }
  else if (k < 0.8) { match.path = { prefix: base }; path = () => `${base}/${segment()}/${int(1000)}`; }
  else if (k < 0.9) { match.path = { regex: `${base}/[0-9]+/(detail|summary)` }; path = () => `${base}/${int(99999)}/${pick(['detail', 'summary'])}`; }
  else { match.path = { regex: `/(${segment()}|${segment()})/[a-z0-9]+\\.(png|jpg)` }; const w = match.path.regex.slice(2, match.path.regex.indexOf('|')); path = () => `/${w}/img${int(100)}.png`; }
  const headers = {};
  if (rnd() < 0.2) { match.headers = { 'x-canary': pick([{ exact: 'true' }, { present: true }, { prefix: 'tenant-' }, { regex: 'v[0-9]+' }]) }; }
  if (rnd() < 0.1) match.method = pick([['GET'], ['GET', 'HEAD'], ['POST', 'PUT']]);
  if (rnd() < 0.05) match.query = { debug: { exact: '1' } };
  const policy = { name: `route-${i}`, direction: rnd() < 0.9 ? 'outbound' : 'inbound', match, priority: pick([0, 0, 0, 0, 1, 5]), timeout: 15_000 };
  const request = () => {
    const hv = match.headers?.['x-canary'];
    if (hv && rnd() < 0.7) headers['x-canary'] = 'exact' in hv ? hv.exact : 'prefix' in hv ? `${hv.prefix}${int(9)}` : 'v3';
    return {
      host: host ?? pick(HOSTS), path: path(), query: match.query && rnd() < 0.7 ? 'debug=1' : '',
      method: match.method ? pick(match.method) : pick(['GET', 'GET', 'POST']), headers: { ...headers, 'user-agent': 'bench', accept: '*/*' },
      direction: policy.direction,
    };
  };
  return { policy, request };
}

function miss() {
  return {
    host: rnd() < 0.5 ? pick(HOSTS) : `unknown-${int(1000)}.example.org`, path: `/${segment()}/${segment()}/${int(1e6)}`,
    query: '', method: 'GET', headers: { 'user-agent': 'bench' }, direction: rnd() < 0.9 ? 'outbound' : 'inbound',
  };
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function run(label, hostless) {
  const routes = Array.from({ length: ROUTES }, (_, i) => makeRoute(i, hostless));
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const router = compileRouter(routes.map((r) => ({ policy: r.policy, value: r.policy.name })));
  const compileMs = performance.now() - t0;
  globalThis.gc?.();
  const heap = globalThis.gc ? `(heap +${((process.memoryUsage().heapUsed - heapBefore) / 2 ** 20).toFixed(1)} MiB)` : '(run with --expose-gc for its heap size)';

  const requests = Array.from({ length: 20_000 }, () => (rnd() < 0.75 ? pick(routes).request() : miss()));
  let sink = 0;
  for (let i = 0; i < 50_000; i++) { const r = requests[i % requests.length]; if (router.match(r.direction, r) !== undefined) sink++; }

  const times = new Float64Array(DECISIONS);
  let hits = 0;
  for (let i = 0; i < DECISIONS; i++) {
    const r = requests[i % requests.length];
    const s = performance.now();
    const v = router.match(r.direction, r);
    times[i] = performance.now() - s;
    if (v !== undefined) hits++;
  }
  const bulkStart = performance.now();
  for (let i = 0; i < DECISIONS; i++) { const r = requests[i % requests.length]; if (router.match(r.direction, r) !== undefined) sink++; }
  const bulkNs = ((performance.now() - bulkStart) / DECISIONS) * 1e6;
  times.sort();
  const us = (q) => (quantile(times, q) * 1000).toFixed(2);
  console.log(`\n${label}: ${ROUTES} routes`);
  console.log(`  compile            ${compileMs.toFixed(1)} ms   ${heap}   target < 1000 ms: ${compileMs < 1000 ? 'OK' : 'MISSED'}`);
  console.log(`  decisions          ${DECISIONS} timed one by one, ${((hits / DECISIONS) * 100).toFixed(0)} % matched a route`);
  console.log(`  per decision (µs)  p50 ${us(0.5)}   p90 ${us(0.9)}   p99 ${us(0.99)}   p99.9 ${us(0.999)}   max ${us(1 - 1e-9)}   target p99 < 20: ${quantile(times, 0.99) * 1000 < 20 ? 'OK' : 'MISSED'}`);
  console.log(`  bulk mean          ${bulkNs.toFixed(0)} ns/decision (no timer overhead)`);
  return sink;
}

function balancers() {
  console.log('\nload balancers: 50 endpoints');
  const eps = Array.from({ length: 50 }, (_, i) => ({ address: `10.0.${i >> 8}.${i & 255}:8080` }));
  for (const kind of ['round-robin', 'random', 'least-request', 'ewma', 'ring-hash', 'maglev']) {
    const lb = createLoadBalancer(kind);
    const t0 = performance.now();
    lb.pick(eps, { hashKey: 'warm' });
    const firstMs = performance.now() - t0;
    const n = 200_000;
    const s = performance.now();
    for (let i = 0; i < n; i++) {
      const e = lb.pick(eps, { hashKey: `user-${i & 1023}` });
      lb.onRequestStart(e.address);
      lb.onRequestEnd(e.address, 5, true);
    }
    const ns = ((performance.now() - s) / n) * 1e6;
    console.log(`  ${kind.padEnd(14)} first pick (incl. build) ${firstMs.toFixed(2).padStart(6)} ms   pick+feedback ${ns.toFixed(0).padStart(4)} ns`);
  }
  const s = performance.now();
  for (let i = 0; i < 200_000; i++) stickyBucket('reviews', `user-${i}`);
  console.log(`  stickyBucket       ${(((performance.now() - s) / 200_000) * 1e6).toFixed(0)} ns`);
}

console.log(`pilotfish routing bench — node ${process.version}, seed ${SEED}, routes from ${distEntry}`);
run('realistic (85 % exact hosts, 7 % wildcard, 8 % none)', false);
run('worst case (no hosts: all routes in one bucket)', true);
balancers();
