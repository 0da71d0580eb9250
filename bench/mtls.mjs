// The price of mutual TLS between sidecars (SPEC §12): A → B → upstream, where wrk calls A's outbound
// and A forwards to B's inbound, once in plaintext and once with mutual TLS (B strict, A mutual with
// certificates minted by `pilotfish certs`), in one interleaved run. Connections are reused on both
// hops (wrk's 50 keep-alive connections, A's pool to B), so handshakes are amortised: what is
// measured is the record layer's cost per request. CPU per request is A's and B's together; both
// sidecars share the proxy core.
//   npm run bench:mtls     (BENCH_SECONDS=4 BENCH_ROUNDS=5 by default)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LISTENERS, LOAD_CORE, ROOT, ROUNDS, SECONDS, measure, pinnedBench, sidecar, start, stopAll, table } from './lib.mjs';

pinnedBench();

const dir = mkdtempSync(path.join(tmpdir(), 'pilotfish-bench-mtls-'));
const certs = (...args) => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), 'certs', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pilotfish certs ${args.join(' ')}: ${r.stderr}`);
};
const identity = (sa) => `identity: { certFile: ${path.join(dir, sa, 'tls.crt')}, keyFile: ${path.join(dir, sa, 'tls.key')}, caFile: ${path.join(dir, sa, 'ca.crt')} }\n`;

/** B's listeners: its inbound forwards to the upstream (the app), in TLS `mode`. */
const inboundListeners = (upstreamPort, mode) => LISTENERS.replace('inbound: { port: 0, address: 127.0.0.1 }',
  `inbound: { port: 0, address: 127.0.0.1, app: "http://127.0.0.1:${upstreamPort}", tls: { mode: ${mode} } }`);
/** A's policy: Host `bench` to B's inbound port, with `tls` (none: plaintext). */
const outbound = (tls) => (bPort) => `${identity('a')}upstreams:
  bench: { endpoints: [{ address: "127.0.0.1:${bPort}" }]${tls ? `, tls: ${tls}` : ''} }
routes:
  - { name: bench, match: { host: bench, path: { prefix: / } }, to: [{ upstream: bench }] }
`;

try {
  certs('ca', '--out', path.join(dir, 'ca'));
  for (const sa of ['a', 'b']) certs('issue', '--ca', path.join(dir, 'ca'), '--id', `spiffe://cluster.local/ns/bench/sa/${sa}`, '--out', path.join(dir, sa));
  const upstream = await start(['bench/servers.mjs', 'upstream'], { core: LOAD_CORE });
  const pair = async (mode, tls) => {
    const b = await sidecar(upstream.port, { policy: () => identity('b'), listeners: inboundListeners(upstream.port, mode) });
    const a = await sidecar(b.ports.inbound, { policy: outbound(tls) });
    return { port: a.port, pid: a.pid, pids: [a.pid, b.pid] };
  };
  const targets = {
    plaintext: await pair('disable', undefined),
    'mutual TLS': await pair('strict', '{ mode: mutual, subjectAltNames: [spiffe://cluster.local/ns/bench/sa/b] }'),
  };
  const rows = await measure(targets);
  console.log(`Pilotfish A → B, mutual TLS vs plaintext — ${SECONDS}s x ${ROUNDS} rounds (medians), A's and B's CPU together, Node ${process.version}\n`);
  console.log(table(rows, { plaintext: 'plaintext' }));
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
