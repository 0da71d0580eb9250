/**
 * What `pilotfish run` loads: only the chosen engine and what the policy uses. Each package kept out
 * here costs megabytes of RSS in every pod (docs/benchmarks.md has the figures).
 */
import http2 from 'node:http2';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from './helpers/http.js';
import { ROOT, spawnSidecar, testListeners, type SidecarProcess } from './helpers/sidecar.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

const REPORT = path.join(ROOT, 'test/helpers/report-loaded.mjs');
let up: Upstream | undefined;
afterEach(async () => { await up?.close(); });

interface Loaded { builtins: string[]; files: string[] }

/**
 * Runs the sidecar with `args` on a plain HTTP/1 policy (no TLS, no HTTP/2 upstream), sends one
 * HTTP/1.1 request through it (and `then`'s, if given), stops it and returns what it loaded.
 */
async function loadedBy(args: string[], then?: (outbound: number) => Promise<void>): Promise<Loaded> {
  up = await startUpstream();
  const proc: SidecarProcess = await spawnSidecar(
    `version: 1\n${testListeners()}\nupstreams: { u: { protocol: http1, endpoints: [{ address: "${up.address}" }] } }\nroutes: [{ name: u, match: { host: u }, to: [{ upstream: u }] }]\n`,
    args, { NODE_OPTIONS: `--import=${REPORT}`, OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '' },
  );
  expect((await request(proc.ports.outbound, { headers: { host: 'u' } })).status).toBe(200);
  await then?.(proc.ports.outbound);
  proc.child.kill('SIGTERM');
  expect(await proc.exited).toBe(0);
  const line = proc.logs.find((l) => l.msg === 'loaded modules') as unknown as Loaded | undefined;
  expect(line, 'the report of loaded modules').toBeDefined();
  return { builtins: line!.builtins, files: line!.files.map((f) => path.relative(ROOT, f)) };
}

/** One h2c request (prior knowledge) to `port`: its status. */
async function h2cStatus(port: number): Promise<number> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise<number>((resolve, reject) => {
      session.on('error', reject);
      const req = session.request({ ':path': '/', ':authority': 'u' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
      req.resume();
    });
  } finally { session.close(); }
}

/** What node:http2 and node:tls load (node:http2 requires node:tls; node:tls starts the CA-store thread). */
const H2_TLS = ['http2', 'internal/http2/core', 'tls', 'internal/tls/wrap'];

const pkg = (files: string[], name: string): string[] => files.filter((f) => f.startsWith(`node_modules/${name}/`));
/** The bundle's chunk of undici (rolldown.config.mjs): the CLI carries undici's modules in it. */
const undiciChunk = (files: string[]): string[] => files.filter((f) => /^dist\/bundle\/undici-lib-[\w-]+\.js$/.test(f));

describe('pilotfish run loads what it uses', () => {
  for (const args of [[], ['--engine', 'node']]) {
    it(`a plain HTTP/1 policy${args.length === 0 ? '' : ` (${args.join(' ')})`}: neither node:http2 nor node:tls`, async () => {
      const { builtins } = await loadedBy(args);
      expect(builtins).toContain('http');
      for (const m of H2_TLS) expect(builtins, m).not.toContain(m);
    });
  }

  it('the first h2c connection loads node:http2 (and node:tls) and is served', async () => {
    // The report sees them once they are loaded: the same policy, one h2c request after the HTTP/1.1 one.
    const { builtins } = await loadedBy([], async (outbound) => { expect(await h2cStatus(outbound)).toBe(200); });
    for (const m of H2_TLS) expect(builtins, m).toContain(m);
  });

  it('--engine undici: undici from the bundle; no http-proxy-3, no tracing SDK, no prom-client index, not Node\'s internal undici', async () => {
    const { builtins, files } = await loadedBy(['--engine', 'undici']);
    expect(undiciChunk(files)).toHaveLength(1);
    // Of undici's own files, only the one HTTP/1 parser it took (rolldown.config.mjs: undiciWasmExternal).
    expect(pkg(files, 'undici')).toHaveLength(1);
    expect(pkg(files, 'undici')[0]).toMatch(/^node_modules\/undici\/lib\/(llhttp|milo)\/[\w-]+\.js$/);
    expect(pkg(files, 'http-proxy-3')).toEqual([]);
    expect(pkg(files, '@opentelemetry')).toEqual([]);
    expect(files).not.toContain('node_modules/prom-client/index.js');
    expect(files).toContain('node_modules/prom-client/lib/registry.js');
    // Node's bundled undici (fetch, WebSocket) comes with an ES import of node:http (core/node-http.ts).
    expect(builtins).not.toContain('internal/deps/undici/undici');
    // node:util's and node:crypto's lazy exports (the assertion differ, worker_threads, WebCrypto)
    // come with an ES import of them: the bundle takes those built-ins by getBuiltinModule (rolldown.config.mjs).
    for (const m of ['internal/util/diff', 'internal/util/trace_sigint', 'internal/crypto/webcrypto']) expect(builtins).not.toContain(m);
  });

  it('runs the CLI bundle: its chunks, not the compiled tree, and the packages it carries not from node_modules', async () => {
    const { files } = await loadedBy([]);
    const ours = files.filter((f) => f.startsWith('dist/'));
    expect(ours).toContain('dist/cli/main.js');
    expect(ours.filter((f) => f !== 'dist/cli/main.js' && !f.startsWith('dist/bundle/'))).toEqual([]);
    for (const name of ['zod', 'yaml', 'pino', 'cockatiel']) expect(pkg(files, name), name).toEqual([]);
    // The lazily loaded parts stay unloaded: chaos, kube, fleet, the tracing SDK, the other engines.
    expect(ours.filter((f) => /\/(chaos-command|inject-command|iptables-command|fleet|otel-tracing|http-proxy-engine|node-http-engine)-[\w-]{8}\.js$/.test(f))).toEqual([]);
  });

  it('--engine node: no undici at all, and no http-proxy-3 until a WebSocket upgrade needs it', async () => {
    const { files } = await loadedBy(['--engine', 'node']);
    expect(pkg(files, 'undici')).toEqual([]);
    expect(undiciChunk(files)).toEqual([]);
    expect(pkg(files, 'http-proxy-3')).toEqual([]);
  });
});
