/**
 * Library mode in a process of its own (the built package, as an application would load it):
 * `setGlobalDispatcher(mesh.dispatcher)` makes the runtime's plain `fetch()` follow the policy, and
 * after `mesh.close()` the process exits by itself — no timer, socket or watcher left holding it (a
 * handle the mesh left referenced would keep it running past the deadline). That close() releases
 * the sockets themselves is checked in mesh.test.ts, from the upstream's side.
 * Also runs the shipped example (examples/library-mode.mjs) the README points to.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, writePolicy } from '../helpers/sidecar.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const fn of cleanup.splice(0).reverse()) await fn(); });

interface Run { code: number | null; stdout: string; stderr: string; ms: number }

/** Runs `node file` and resolves when it exits on its own; kills it (and fails) after `timeoutMs`. */
function run(file: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 15_000): Promise<Run> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [file], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${path.basename(file)} did not exit by itself within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`)); }, timeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, ms: performance.now() - t0 }); });
  });
}

const url = (rel: string): string => pathToFileURL(path.join(ROOT, rel)).href;

describe('library mode in its own process', () => {
  it('setGlobalDispatcher makes plain fetch() follow the policy; close() lets the process exit', async () => {
    let n = 0;
    const u: Upstream = await startUpstream((req, res) => {
      req.resume();
      // The first try of each call fails: only the policy's retry makes it a 200.
      if (req.url === '/healthz') { res.end(); return; }
      if (++n % 2 === 1) { res.writeHead(503); res.end('fail'); return; }
      res.end(`ok ${req.url}`);
    });
    cleanup.push(() => u.close());
    u.server.keepAliveTimeout = 60_000;
    const policy = await writePolicy(`version: 1
upstreams: { u: { endpoints: [{ address: "${u.address}" }], connectionPool: { idleTimeout: 60s }, healthCheck: { path: /healthz, interval: 1s } } }
routes:
  - name: r
    match: { host: orders, path: { prefix: /api } }
    to: [{ upstream: u }]
    rewrite: { prefix: /v2 }
    retries: { attempts: 1, retryOn: [5xx], backoff: { base: 1ms, max: 2ms } }
`);
    const script = path.join(path.dirname(policy), 'app.mjs');
    await writeFile(script, `
import { setGlobalDispatcher } from ${JSON.stringify(url('node_modules/undici/index.js'))};
import { createMesh } from ${JSON.stringify(url('dist/index.js'))};
const mesh = await createMesh({ policy: process.env.POLICY });
setGlobalDispatcher(mesh.dispatcher);
const out = [];
for (let i = 0; i < 3; i++) { const r = await fetch('http://orders/api/list'); out.push(r.status + ' ' + await r.text()); }
const nr = await fetch('http://elsewhere/');
out.push(nr.status + ' ' + nr.headers.get('x-pilotfish-flags'));
console.log(JSON.stringify(out));
await mesh.close();
const closedAt = performance.now();
process.on('exit', () => console.log('exit ' + Math.round(performance.now() - closedAt) + ' ms after close'));
// No process.exit(): the test fails if anything the mesh made keeps the process alive.
`);
    const r = await run(script, { POLICY: policy });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [calls, exit] = r.stdout.trim().split('\n');
    expect(JSON.parse(calls!)).toEqual(['200 ok /v2/list', '200 ok /v2/list', '200 ok /v2/list', '404 NR']);
    expect(u.seen.filter((s) => s.url !== '/healthz').length).toBe(6);
    expect(Number(/^exit (\d+) ms after close$/.exec(exit!)?.[1])).toBeLessThan(3000);
  });

  it('the shipped example runs and exits by itself', async () => {
    const r = await run(path.join(ROOT, 'examples/library-mode.mjs'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/mesh\.fetch: 100 calls, all 200 — v1 \d+, v2 \d+/);
    expect(r.stdout).toMatch(/fetch\(\) through the global dispatcher: 200 \{"version":"v[12]"/);
    expect(r.stdout).toMatch(/unknown host: 404 NR/);
    expect(r.stdout).toMatch(/pilotfish_requests_total\{/);
    expect(r.stdout).toMatch(/explain: winner reviews/);
  });
});
