// A V8 CPU profile of a proxy under load, and where its samples go: the sidecar on one of bench/lib.mjs's
// policies (or bare undici, the yardstick) takes 5 s of `wrk -c50`, then is profiled through the
// inspector over SECONDS more, and the samples are split by where their code comes from (mapped
// through the bundle's source maps: our src/, undici, opossum, Node's JavaScript, native, GC) in µs per
// request. Under load a sampling profile's shares stay valid; its µs do not.
//   node bench/cpu-profile.mjs full|one-route|bare-undici [SECONDS] [OUT.cpuprofile]   (after npm run build)
//   node bench/cpu-profile.mjs --split OUT.cpuprofile                                  an earlier profile again
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';
import { freePort, inspectPortFlag } from './heap.mjs';
import { LOAD_CORE, PROXY_CORE, pinnedBench, sidecar, start, stopAll, wrk } from './lib.mjs';

const [what, a, b] = process.argv.slice(2);
if (what === '--split') split(JSON.parse(readFileSync(a, 'utf8')));
else await profile(what ?? 'full', Number(a ?? 15), b);

async function profile(target, seconds, out) {
  pinnedBench();
  try {
    const up = await start(['bench/servers.mjs', 'upstream'], { core: LOAD_CORE });
    const port = await freePort();
    const flags = ['--max-semi-space-size=8', inspectPortFlag(port)];
    const p = target === 'bare-undici'
      ? await start(['bench/servers.mjs', 'bare-undici', String(up.port)], { nodeArgs: flags, core: PROXY_CORE })
      : await sidecar(up.port, { policy: target, nodeArgs: flags });
    await wrk(p.port, { seconds: 5 });
    const call = await inspector(p.pid, port);
    await call('Profiler.enable');
    await call('Profiler.setSamplingInterval', { interval: 200 });
    await call('Profiler.start');
    const { requests } = await wrk(p.port, { seconds });
    const { profile: prof } = await call('Profiler.stop');
    prof.requests = requests;
    const file = out ?? `${target}.cpuprofile`;
    writeFileSync(file, JSON.stringify(prof));
    console.log(`${target}: ${requests} requests profiled, ${file}`);
    split(prof);
  } finally {
    await stopAll();
  }
}

/** Opens the inspector of `pid` (SIGUSR1; it listens on `port`) and returns a CDP call function. */
async function inspector(pid, port) {
  process.kill(pid, 'SIGUSR1');
  let targets;
  for (let i = 0; targets === undefined; i++) {
    try { targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json(); } catch (err) { if (i > 100) throw err; await new Promise((r) => setTimeout(r, 50)); }
  }
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('inspector: connection failed')); });
  const waiting = new Map();
  let id = 0;
  ws.onmessage = (e) => { const m = JSON.parse(e.data); waiting.get(m.id)?.(m.result); waiting.delete(m.id); };
  return (method, params = {}) => new Promise((resolve) => { waiting.set(++id, resolve); ws.send(JSON.stringify({ id, method, params })); });
}

/** Busy samples by where their code comes from, in % and µs per request (idle left out). */
function split(prof) {
  const maps = new Map();
  const mapOf = (url) => {
    if (!maps.has(url)) { const f = `${fileURLToPath(url)}.map`; maps.set(url, existsSync(f) ? new SourceMap(JSON.parse(readFileSync(f, 'utf8'))) : null); }
    return maps.get(url);
  };
  const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
  const counts = new Map();
  for (const s of prof.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const kinds = new Map();
  let busy = 0;
  for (const [id, c] of counts) {
    const f = nodes.get(id).callFrame;
    if (f.functionName === '(idle)') continue;
    busy += c;
    let src = f.url;
    if (src.startsWith('file:') && src.includes('/dist/')) src = mapOf(src)?.findEntry(f.lineNumber, f.columnNumber)?.originalSource ?? src;
    const kind = f.functionName === '(garbage collector)' ? 'GC'
      : f.functionName === '(program)' ? '(program)'
        : src === '' ? (/^(writev|writeLatin1String|writeUtf8String|writeBuffer)$/.test(f.functionName) ? 'socket writes (native)' : `native ${f.functionName}`)
          : src.includes('undici') ? 'undici' : src.includes('opossum') ? 'opossum'
            : /(^|\/)src\//.test(src) || src.includes('bench/servers') ? 'ours (src/, or the bare proxy)'
              : src.startsWith('node:') ? "Node's JavaScript" : src.startsWith('wasm') ? 'wasm (llhttp)' : `other ${src}`;
    kinds.set(kind, (kinds.get(kind) ?? 0) + c);
  }
  const us = (prof.endTime - prof.startTime) / prof.samples.length; // the interval the samples really came at
  console.log(`${busy} busy samples, ${(busy * us / prof.requests).toFixed(1)} µs busy per request`);
  for (const [k, v] of [...kinds].sort((x, y) => y[1] - x[1]).slice(0, 20)) {
    console.log(`${k.padEnd(36)} ${(100 * v / busy).toFixed(1).padStart(5)}%  ${(v * us / prof.requests).toFixed(1).padStart(6)} µs/req`);
  }
}
