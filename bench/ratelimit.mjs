#!/usr/bin/env node
/**
 * Rate-limit benchmark (issue 19): what a take costs, and what 100,000 distinct keys cost a real
 * sidecar's memory.
 *
 *   npm run bench:ratelimit        (node --expose-gc bench/ratelimit.mjs)
 *
 * 1. Micro: ns per `take` of the compiled limiter (dist/ratelimit) — the route's one bucket, a
 *    bucket per key over 100 hot keys, and 100,000 distinct keys cycling through a table capped at
 *    10,000 (every take an eviction: the attacker's case), and a `scope: fleet` route bucket
 *    answering from its leased allowance. Bulk loops timed with performance.now.
 * 2. Memory: a real sidecar (in this process, so its heap can be read after a full GC) whose route
 *    is limited per `x-client`, fed BENCH_KEYS (100,000) requests each with a new key; its heap
 *    before and after, against a route without a limit and one capped at 1,000,000 keys. The limit
 *    is generous so every request is admitted: what is measured is the key table.
 *
 * Options (env): BENCH_TAKES (5,000,000), BENCH_KEYS (100,000). Figures on a shared machine are noise:
 * compare within one run.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { LISTENERS, start, stopAll } from './lib.mjs';

const { LocalRateLimiter, FleetRateLimiter, FallbackSwitch } = await import(new URL('../dist/ratelimit/index.js', import.meta.url).href);
const TAKES = Number(process.env.BENCH_TAKES ?? 5_000_000);
const KEYS = Number(process.env.BENCH_KEYS ?? 100_000);

function micro(name, limiter, keyOf) {
  for (let i = 0; i < 100_000; i++) limiter.take(keyOf(i)); // warm up
  const t0 = performance.now();
  for (let i = 0; i < TAKES; i++) limiter.take(keyOf(i));
  const ns = ((performance.now() - t0) * 1e6) / TAKES;
  console.log(`  ${name.padEnd(52)} ${ns.toFixed(1).padStart(7)} ns/take`);
}

console.log(`limiter takes (${TAKES.toLocaleString()} each):`);
const fast = { requests: 1e9, per: 1000, burst: 1e9 };
micro('route bucket', new LocalRateLimiter({ ...fast, maxKeys: 10_000 }), () => undefined);
const hot = Array.from({ length: 100 }, (_, i) => `client-${i}`);
micro('bucket per key, 100 hot keys', new LocalRateLimiter({ ...fast, maxKeys: 10_000 }), (i) => hot[i % 100]);
const cold = Array.from({ length: 100_000 }, (_, i) => `client-${i}`);
micro('bucket per key, 100,000 keys cycling, cap 10,000', new LocalRateLimiter({ ...fast, maxKeys: 10_000 }), (i) => cold[i % 100_000]);
// scope: fleet, what a request costs while the sidecar's allowance lasts (a store that grants every
// batch at once: the batch here is 10^8 tokens, so the loop never leases again).
const instant = { lease: async (_key, want) => ({ granted: want, retryMs: 0 }) };
const fleet = new FleetRateLimiter({ ...fast, maxKeys: 10_000, buckets: instant, view: { connected: () => true, sidecars: () => 1 }, fallback: new FallbackSwitch() });
await fleet.take(undefined);
micro('fleet-wide route bucket, from the local allowance', fleet, () => undefined);

const { Sidecar } = await import(new URL('../dist/sidecar.js', import.meta.url).href);
const { createLogger } = await import(new URL('../dist/log.js', import.meta.url).href);
const gc = globalThis.gc ?? (() => { throw new Error('run with node --expose-gc (npm run bench:ratelimit does)'); });
const heapMiB = () => { gc(); gc(); return process.memoryUsage().heapUsed / 1048576; };

async function sidecarWith(route, upstreamPort) {
  const dir = mkdtempSync(path.join(tmpdir(), 'pilotfish-bench-'));
  const policyFile = path.join(dir, 'policy.yaml');
  writeFileSync(policyFile, `version: 1\n${LISTENERS}upstreams:\n  bench: { endpoints: [{ address: "127.0.0.1:${upstreamPort}" }] }\nroutes:\n  - name: bench\n    match: { host: bench }\n    to: [{ upstream: bench }]\n${route}`);
  return Sidecar.start({ policyFile, log: createLogger('silent'), watch: false });
}

async function feed(port, keys) {
  let n = 0;
  const r = await autocannon({
    url: `http://127.0.0.1:${port}/`, connections: 20, amount: keys,
    requests: [{ setupRequest: (req) => ({ ...req, headers: { host: 'bench', 'x-client': `client-${n++}-${'k'.repeat(24)}` } }) }],
  });
  if (r.non2xx + r.errors > 0) throw new Error(`${r.non2xx} non-2xx answers, ${r.errors} errors`);
}

// In this process, so the heap can be measured after a full GC (RSS would mostly show when V8
// last collected). The upstream is a child process.
console.log(`\nsidecar heap after ${KEYS.toLocaleString()} requests, each with a new x-client key (MiB, after GC):`);
const up = await start(['bench/servers.mjs', 'upstream']);
for (const [name, route] of [
  ['no rate limit', ''],
  ['rateLimit per x-client, maxKeys 10,000 (default)', '    rateLimit: { requests: 1000000, per: 1s, key: x-client }\n'],
  ['rateLimit per x-client, maxKeys 1,000,000', '    rateLimit: { requests: 1000000, per: 1s, key: x-client, maxKeys: 1000000 }\n'],
]) {
  const s = await sidecarWith(route, up.port);
  await feed(s.ports.outbound, 20_000); // warm: pools, JIT, and the first 20,000 keys (a 10,000 table is full)
  const before = heapMiB();
  await feed(s.ports.outbound, KEYS);
  const after = heapMiB();
  console.log(`  ${name.padEnd(50)} before ${before.toFixed(1).padStart(6)}  after ${after.toFixed(1).padStart(6)}  (${after >= before ? '+' : ''}${(after - before).toFixed(1)})`);
  await s.close();
}
await stopAll();
