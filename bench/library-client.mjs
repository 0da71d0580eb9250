// One client variant of `npm run bench:library`, in its own process so its CPU is its own:
//   node bench/library-client.mjs <variant> <upstreamPort> <sidecarPort> <seconds> <concurrency>
// variant: bare         undici.request straight to the upstream (an undici Agent, keep-alive)
//          mesh-request undici.request through mesh.dispatcher (createMesh, the one-route policy)
//          mesh-fetch   mesh.fetch (WHATWG fetch through the mesh's dispatcher)
//          sidecar      undici.request to the sidecar's outbound port (Host: bench)
//          bare-fetch   the runtime's fetch straight to the upstream (WHATWG fetch's own price)
// A closed loop of <concurrency> callers for <seconds> after a warm-up of BENCH_WARMUP_CALLS calls
// (default 20,000): a count, not a time, so every variant enters its timed window in the same JIT
// state. V8 tiers a call's functions up to TurboFan by how often they ran, and the wave of those
// compiles comes at ~10,000–12,000 calls (--trace-opt: 53 TurboFan compiles for bare and 85 through
// the mesh in calls 10,000–15,000, under 10 in each later 5,000); the one-second warm-up this
// replaces ended at ~11,500 calls for bare and ~9,500 for the slower mesh, so the mesh's larger
// wave fell inside its timed window and bare's mostly before it. Prints one JSON line:
// calls, CPU µs per call (this process: user + system), that CPU's user and system parts, the part
// of it on threads other than the main one (V8's GC and compiler workers, libuv's pool: from
// /proc/self/task, Linux only, 10 ms ticks), latency p50/p99 (ms).
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { createMesh } from '../dist/index.js';

const [variant, upstreamPort, sidecarPort, seconds = '4', concurrency = '8'] = process.argv.slice(2);

let mesh;
let call;
const agent = new Agent({ keepAliveTimeout: 10_000 });
const drain = async (body) => { for await (const _ of body); };
if (variant === 'bare') {
  call = async () => { const r = await request(`http://127.0.0.1:${upstreamPort}/bench`, { dispatcher: agent }); await drain(r.body); return r.statusCode; };
} else if (variant === 'bare-fetch') {
  call = async () => { const r = await fetch(`http://127.0.0.1:${upstreamPort}/bench`); await r.arrayBuffer(); return r.status; };
} else if (variant === 'sidecar') {
  call = async () => { const r = await request(`http://127.0.0.1:${sidecarPort}/bench`, { dispatcher: agent, headers: { host: 'bench' } }); await drain(r.body); return r.statusCode; };
} else {
  mesh = await createMesh({
    policy: { version: 1, upstreams: { bench: { endpoints: [{ address: `127.0.0.1:${upstreamPort}` }] } }, routes: [{ name: 'bench', match: { host: 'bench', path: { prefix: '/' } }, to: [{ upstream: 'bench' }] }] },
    watch: false,
  });
  if (variant === 'mesh-request') {
    call = async () => { const r = await request('http://bench/bench', { dispatcher: mesh.dispatcher }); await drain(r.body); return r.statusCode; };
  } else if (variant === 'mesh-fetch') {
    call = async () => { const r = await mesh.fetch('http://bench/bench'); await r.arrayBuffer(); return r.status; };
  } else {
    console.error(`unknown variant ${variant}`);
    process.exit(2);
  }
}

/** Runs callers until `ms` have passed, or (when `upTo` is given) until `upTo` calls were made. */
async function loop(ms, latencies, upTo = Infinity) {
  const end = performance.now() + ms;
  let calls = 0;
  let errors = 0;
  await Promise.all(Array.from({ length: Number(concurrency) }, async () => {
    while (upTo === Infinity ? performance.now() < end : calls < upTo) {
      const t0 = performance.now();
      const status = await call().catch(() => 0);
      if (status !== 200) errors++;
      latencies?.push(performance.now() - t0);
      calls++;
    }
  }));
  return { calls, errors };
}

/** CPU (µs, user + system) of this process's threads other than the main one; 0 where /proc is absent. */
function offMainUs() {
  try {
    let ticks = 0;
    for (const t of readdirSync('/proc/self/task')) {
      if (Number(t) === process.pid) continue;
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime
    }
    return ticks * 10_000;
  } catch {
    return 0;
  }
}

await loop(Infinity, undefined, Number(process.env.BENCH_WARMUP_CALLS ?? 20_000));
console.log('warm'); // bench/library.mjs starts the sidecar's CPU window here
const latencies = [];
const off0 = offMainUs();
const cpu0 = process.cpuUsage();
const { calls, errors } = await loop(Number(seconds) * 1000, latencies);
const cpu = process.cpuUsage(cpu0);
const off = offMainUs() - off0;
latencies.sort((a, b) => a - b);
const pct = (p) => Number(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))].toFixed(3));
console.log(JSON.stringify({ variant, calls, errors, cpuUsPerCall: (cpu.user + cpu.system) / calls, userUsPerCall: cpu.user / calls, systemUsPerCall: cpu.system / calls, offMainUsPerCall: off / calls, p50: pct(0.5), p99: pct(0.99) }));
await mesh?.close();
await agent.close();
