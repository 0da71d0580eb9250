/**
 * The real `pilotfish` process: `validate` output and exit codes, and the SIGTERM drain with a
 * request in flight.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { request, waitFor } from './helpers/http.js';
import { SIDECAR_ENV, SIDECAR_V8_FLAGS } from '../src/cli/v8-flags.js';
import { ENGINES } from '../src/proxy/engine.js';
import { CLI, ROOT, spawnSidecar, testListeners, writePolicy, type SidecarProcess } from './helpers/sidecar.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

const exec = promisify(execFile);

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args], { cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('pilotfish validate', () => {
  it('accepts the shipped demo policy', async () => {
    const r = await cli('validate', 'config/policy.yaml');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/config\/policy\.yaml: ok/);
  });

  it('lists every error as file:line:col key.path: message and exits 1', async () => {
    const file = await writePolicy([
      'version: 1',
      'upstreams:',
      '  a: { endpoints: [{ address: "10.0.0.1:80" }] }',
      'routes:',
      '  - name: r',
      '    match: { host: a, colour: blue }',
      '    to: [{ upstream: a, weight: 60 }, { upstream: missing, weight: 30 }]',
      '    timeout: soon',
    ].join('\n'));
    const r = await cli('validate', file);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain(`${file}:6:23 routes[0].match.colour: unknown key "colour"`);
    expect(lines).toContain(`${file}:8:14 routes[0].timeout: invalid duration "soon" (use e.g. 250ms, 1s, 2m, or milliseconds)`);
  });

  it('reports cross-reference errors with positions once the schema passes', async () => {
    const file = await writePolicy([
      'version: 1',
      'upstreams:',
      '  a: { endpoints: [{ address: "10.0.0.1:80", labels: { version: v1 } }], subsets: { v1: { version: v1 } } }',
      'routes:',
      '  - name: r',
      '    to:',
      '      - { upstream: a, subset: v9, weight: 60 }',
      '      - { upstream: missing, weight: 30 }',
    ].join('\n'));
    const r = await cli('validate', file);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${file}:7:32 routes[0].to[0].subset: unknown subset "v9" of upstream "a"`);
    expect(r.stdout).toContain(`${file}:8:21 routes[0].to[1].upstream: unknown upstream "missing"`);
    expect(r.stdout).toContain(`${file}:7:7 routes[0].to: weights sum to 90, not 100`);
  });

  it('reports YAML syntax errors with their position', async () => {
    const file = await writePolicy('version: 1\nroutes: [\n  { name: x\n');
    const r = await cli('validate', file);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+ \\(syntax\\): `, 'm'));
  });

  it('exits 2 on usage errors', async () => {
    expect((await cli('frobnicate')).code).toBe(2);
    expect((await cli('validate')).code).toBe(2);
    const engine = await cli('run', '--engine', 'bogus');
    expect(engine.code).toBe(2);
    expect(engine.stderr).toContain(`invalid --engine bogus (one of ${ENGINES.join(', ')})`);
  });

  it('refuses to run on an invalid policy, exit 1, naming the error', async () => {
    const file = await writePolicy('version: 2\n');
    const r = await cli('run', '--policy', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}:1:10 version: version must be 1`);
  });
});

describe('pilotfish run --engine', () => {
  let up: Upstream | undefined;
  afterEach(async () => { await up?.close(); });

  it.each(ENGINES)('%s carries a request and its body through the real process', async (engine) => {
    up = await startUpstream((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(`${req.method} ${req.url} ${Buffer.concat(chunks).length} ${req.headers['x-forwarded-proto']}`));
    });
    const proc = await spawnSidecar(`version: 1\n${testListeners()}\nupstreams: { u: { endpoints: [{ address: "${up.address}" }] } }\nroutes: [{ name: u, match: { host: u }, to: [{ upstream: u }] }]\n`, ['--engine', engine]);
    try {
      const r = await request(proc.ports.outbound, { method: 'POST', path: '/x?y=1', headers: { host: 'u' }, body: Buffer.alloc(100_000, 1) });
      expect(r.status).toBe(200);
      expect(r.text).toBe('POST /x?y=1 100000 http');
      expect(proc.logs.find((l) => l.msg === 'listening')).toMatchObject({ engine });
    } finally {
      proc.child.kill('SIGKILL');
    }
  });
});

describe('pilotfish run: V8 flags and environment', () => {
  const policy = `version: 1\n${testListeners()}\nupstreams: { u: { endpoints: [{ address: "127.0.0.1:9" }] } }\nroutes: [{ name: u, match: { host: u }, to: [{ upstream: u }] }]\n`;
  /** The ready sidecar's V8 flags (its `listening` log) and the environment its process image was started with (/proc). */
  const started = async (env: NodeJS.ProcessEnv): Promise<{ execArgv: string[]; environ: Record<string, string> }> => {
    const unset = Object.fromEntries(Object.keys(SIDECAR_ENV).map((k) => [k, undefined]));
    const proc = await spawnSidecar(policy, [], { ...unset, ...env });
    try {
      const environ = Object.fromEntries(readFileSync(`/proc/${proc.child.pid}/environ`, 'utf8').split('\0').filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
      return { execArgv: proc.logs.find((l) => l.msg === 'listening')!.execArgv as string[], environ };
    } finally {
      proc.child.kill('SIGKILL');
    }
  };

  it('re-executes itself once with the sidecar\'s young-generation size and environment when started without them', async () => {
    const { execArgv, environ } = await started({});
    expect(execArgv).toEqual(expect.arrayContaining([...SIDECAR_V8_FLAGS]));
    expect(environ).toMatchObject({ ...SIDECAR_ENV, PILOTFISH_REEXECUTED: '1' });
  });

  it('keeps a size and an arena count the user chose', async () => {
    const { execArgv, environ } = await started({ MALLOC_ARENA_MAX: '2' });
    expect(execArgv).toEqual(expect.arrayContaining([...SIDECAR_V8_FLAGS]));
    expect(environ.MALLOC_ARENA_MAX).toBe('2');
    const own = await started({ NODE_OPTIONS: '--max-semi-space-size=8' });
    expect(own.execArgv).not.toEqual(expect.arrayContaining([...SIDECAR_V8_FLAGS]));
    // Started with a young-generation size but not the allocator's variable: no re-execution for it.
    expect(own.environ.PILOTFISH_REEXECUTED).toBeUndefined();
    expect(own.environ.MALLOC_ARENA_MAX).toBeUndefined();
  });

  it('does not re-execute with PILOTFISH_REEXEC=0', async () => {
    const { execArgv, environ } = await started({ PILOTFISH_REEXEC: '0' });
    expect(execArgv).toEqual([]);
    expect(environ.MALLOC_ARENA_MAX).toBeUndefined();
  });
});

describe('pilotfish run: compile cache', () => {
  let up: Upstream | undefined;
  let dir: string | undefined;
  afterEach(async () => { await up?.close(); if (dir) rmSync(dir, { recursive: true, force: true }); });
  const DEBUG = { NODE_DEBUG_NATIVE: 'COMPILE_CACHE' };
  /** The bundle's modules whose cached code this start took (Node's compile-cache debug lines). */
  const accepted = (proc: SidecarProcess): string[] => proc.stderr.flatMap((l) => /V8 code cache for ESM (\S+\/dist\/bundle\/\S+) was accepted/.exec(l)?.[1] ?? []);

  it('a clean exit writes the cache; the next start reads the bundle from it, and one from a corrupt cache still serves', async () => {
    up = await startUpstream((_req, res) => res.end('ok'));
    dir = mkdtempSync(path.join(tmpdir(), 'pilotfish-compile-cache-'));
    const policy = `version: 1\n${testListeners()}\nupstreams: { u: { endpoints: [{ address: "${up.address}" }] } }\nroutes: [{ name: u, match: { host: u }, to: [{ upstream: u }] }]\n`;
    // Not NODE_COMPILE_CACHE (with it Node turns the cache on by itself): main.ts's default, under os.tmpdir().
    const env = { TMPDIR: dir, NODE_COMPILE_CACHE: undefined, ...DEBUG };
    const cache = path.join(dir, 'node-compile-cache');
    const first = await spawnSidecar(policy, [], env);
    expect(accepted(first)).toEqual([]);
    // Ready answers once run-command has its SIGTERM handler (the `listening` line comes just before it).
    expect((await request(first.ports.telemetry, { path: '/healthz/ready' })).status).toBe(200);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const [sub] = readdirSync(cache);
    const files = readdirSync(path.join(cache, sub!));
    expect(files.length).toBeGreaterThan(10);

    const second = await spawnSidecar(policy, [], env);
    try {
      expect(accepted(second).length).toBeGreaterThan(10);
      expect(accepted(second).some((f) => f.includes('/dist/bundle/run-command-'))).toBe(true);
      expect((await request(second.ports.outbound, { headers: { host: 'u' } })).text).toBe('ok');
    } finally {
      second.child.kill('SIGKILL');
    }

    // Garbage where the cache was: rejected and compiled as without one.
    for (const f of files) writeFileSync(path.join(cache, sub!, f), Buffer.alloc(4096, 7));
    const third = await spawnSidecar(policy, [], env);
    try {
      expect(accepted(third)).toEqual([]);
      expect((await request(third.ports.outbound, { headers: { host: 'u' } })).text).toBe('ok');
    } finally {
      third.child.kill('SIGKILL');
    }
  }, 60_000); // three starts and a clean exit: ~8 s alone, over 20 s on a loaded machine
});

describe('pilotfish run: SIGTERM drain', () => {
  let up: Upstream | undefined;
  afterEach(async () => { await up?.close(); });

  it('a SIGTERM that comes while the sidecar starts is held: the start completes, drains and exits 0', async () => {
    // A fleet whose Redis refuses: the start waits for it (then serves the file), a window wide
    // enough to signal into after the first log line and before `listening`.
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const policyFile = await writePolicy(`version: 1\n${testListeners()}\nupstreams: { u: { endpoints: [{ address: "127.0.0.1:9" }] } }\nroutes: [{ name: u, match: { host: u }, to: [{ upstream: u }] }]\n`);
    const child = spawn(process.execPath, [CLI, 'run', '--policy', policyFile, '--fleet', `redis://127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    const messages: string[] = [];
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      createInterface({ input: child.stderr! }).on('line', (line) => {
        try { messages.push((JSON.parse(line) as { msg: string }).msg); } catch { /* not JSON */ }
        if (messages.length === 1) child.kill('SIGTERM');
      });
      expect(await exited).toBe(0);
      expect(messages.indexOf('listening')).toBeGreaterThan(0);
      expect(messages.indexOf('shutting down')).toBeGreaterThan(messages.indexOf('listening'));
      expect(messages).toContain('drained');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('turns unready, completes the in-flight request with Connection: close, refuses new ones, exits 0', async () => {
    let release: (() => void) | undefined;
    up = await startUpstream((_req, res) => { release = () => res.end('finished'); });
    const proc = await spawnSidecar(`version: 1\n${testListeners()}\nupstreams: { u: { endpoints: [{ address: "${up.address}" }] } }\nroutes: [{ name: u, match: { host: u }, to: [{ upstream: u }] }]\n`);
    try {
      expect((await request(proc.ports.telemetry, { path: '/healthz/ready' })).status).toBe(200);
      expect((await request(proc.ports.telemetry, { path: '/healthz/live' })).status).toBe(200);
      const keepAlive = new http.Agent({ keepAlive: true });
      const inflight = request(proc.ports.outbound, { headers: { host: 'u' }, agent: keepAlive });
      await waitFor(() => release, { what: 'the upstream to hold the request' });
      proc.child.kill('SIGTERM');
      await waitFor(async () => (await request(proc.ports.telemetry, { path: '/healthz/ready' })).status === 503, { what: 'readiness to turn 503' });
      await waitFor(() => request(proc.ports.outbound, { headers: { host: 'u' } }).then(() => false, (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED'), { what: 'the listener to stop accepting' });
      release!();
      const r = await inflight;
      expect(r.status).toBe(200);
      expect(r.text).toBe('finished');
      expect(r.headers.connection).toBe('close');
      expect(await proc.exited).toBe(0);
      keepAlive.destroy();
    } finally {
      proc.child.kill('SIGKILL');
    }
  });
});
