/**
 * The chaos runner end to end: suites run against the real `pilotfish run` process, exercising what
 * the sidecar does today (routing by Host, weighted splits, 503 UF/UC, 504 UT), a deliberately wrong
 * hypothesis (exit 1, readable), an invalid suite and an environment that cannot start (exit 2), the
 * reports, and cleanup — after success, and after SIGINT.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { chaosCommand } from '../../src/chaos/index.js';
import type { SuiteJournal } from '../../src/chaos/journal.js';
import { waitFor } from '../helpers/http.js';
import { CLI, ROOT } from '../helpers/sidecar.js';

const ENVIRONMENT = `environment:
  local:
    upstreams:
      blue: { replicas: 2, labels: { version: blue } }
      green: { replicas: 1, labels: { version: green } }
      lonely: { replicas: 1 }
    policy:
      version: 1
      upstreams:
        web:
          endpoints:
            - { address: "\${upstreams.blue[0]}", labels: { version: blue } }
            - { address: "\${upstreams.blue[1]}", labels: { version: blue } }
            - { address: "\${upstreams.green[0]}", labels: { version: green } }
          subsets: { blue: { version: blue }, green: { version: green } }
        lonely: { endpoints: "\${endpoints.lonely}", connectionPool: { connectTimeout: 500ms } }
      routes:
        - name: web
          match: { host: web }
          to: [{ upstream: web, subset: blue, weight: 80 }, { upstream: web, subset: green, weight: 20 }]
        - { name: lonely, match: { host: lonely }, to: [{ upstream: lonely }], timeout: 300ms }
steadyState:
  title: both services answer
  probes:
    - { name: web answers, http: { host: web }, tolerance: 200 }
    - { name: lonely answers, http: { host: lonely }, tolerance: [200, 204] }
`;

// Binomial(600, 0.2) for green: sd 9.8 requests (1.6 points); the bounds are 5 sd wide.
const SPLIT = `  - name: weighted split by host
    load: { request: { host: web }, rate: 300, count: 600 }
    expect:
      requests: "== 600"
      successRate: "== 100%"
      share: { by: version, values: { blue: ">= 72%", green: ">= 12%" } }
`;

const FAULTS = `  - name: a killed endpoint answers 503 UF
    inject: [{ kill: "lonely[0]" }]
    load: { request: { host: lonely }, rate: 100, count: 30 }
    expect: { status: { "503": "== 100%" }, flags: { UF: "== 100%" } }
  - name: a reset endpoint answers 503 UC
    inject: [{ toxic: { endpoint: "lonely[0]", type: reset_peer, stream: upstream } }]
    load: { request: { host: lonely }, rate: 50, count: 10 }
    expect: { status: { "503": "== 100%" }, flags: { UC: "== 100%" } }
  - name: a slow endpoint is cut at the route timeout, 504 UT
    inject: [{ toxic: { endpoint: "lonely[0]", type: latency, latency: 2s } }]
    load: { request: { host: lonely }, concurrency: 10, count: 20 }
    expect: { status: { "504": "== 100%" }, flags: { UT: "== 100%" }, latency: { p50: "< 1s", min: ">= 290ms" } }
`;

async function suiteFile(text: string): Promise<{ file: string; dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pilotfish-chaos-test-'));
  const file = path.join(dir, 'suite.yaml');
  await writeFile(file, text);
  return { file, dir };
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => { out += c.toString(); });
  stderr.on('data', (c: Buffer) => { err += c.toString(); });
  const code = await chaosCommand(args, { cli: CLI, stdout, stderr, handleSignals: false });
  return { code, stdout: out, stderr: err };
}

const refused = (address: string): Promise<boolean> => new Promise((resolve) => {
  const [host, port] = address.split(':');
  const s = net.connect({ host, port: Number(port) });
  s.once('connect', () => { s.destroy(); resolve(false); });
  s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
});

const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true; } catch { return false; }
};

/** Everything the run started is gone: the sidecar process, its ports, the toxic proxies. */
async function expectCleanedUp(j: SuiteJournal): Promise<void> {
  const env = j.environment as { sidecarPid: number; ports: Record<string, number>; endpoints: Array<{ address: string; endpointPort: number }> };
  await waitFor(() => !alive(env.sidecarPid), { what: 'the sidecar process to be gone' });
  for (const port of Object.values(env.ports)) expect(await refused(`127.0.0.1:${port}`)).toBe(true);
  for (const e of env.endpoints) {
    expect(await refused(e.address)).toBe(true);
    expect(await refused(`127.0.0.1:${e.endpointPort}`)).toBe(true);
  }
}

describe('pilotfish chaos', () => {
  it('runs a suite against the real sidecar: split by host, UF, UC, UT; reports; cleans up', async () => {
    const { file, dir } = await suiteFile(`name: runner basics\n${ENVIRONMENT}experiments:\n${SPLIT}${FAULTS}`);
    const r = await run([file, '--junit', path.join(dir, 'out/junit.xml'), '--json', path.join(dir, 'out/journal.json')]);
    expect(r.stdout + r.stderr).not.toMatch(/✘/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/runner basics\s+weighted split by host\s+PASS\s+600\s+100%/);
    expect(r.stdout).toContain('1/1 suite(s) passed');
    const junit = await readFile(path.join(dir, 'out/junit.xml'), 'utf8');
    expect(junit).toMatch(/<testsuites name="pilotfish chaos" tests="\d+" failures="0" errors="0"/);
    expect(junit.match(/<testsuite /g)).toHaveLength(6); // steady state before + 4 experiments + after
    const { suites: [journal] } = JSON.parse(await readFile(path.join(dir, 'out/journal.json'), 'utf8')) as { suites: SuiteJournal[] };
    expect(journal!.outcome).toBe('passed');
    const kill = journal!.phases.find((p) => p.name === 'a killed endpoint answers 503 UF')!;
    expect(kill.actions.map((a) => `${a.step} ${a.description}`)).toEqual(['inject kill lonely[0]', 'undo kill lonely[0]']);
    await expectCleanedUp(journal!);
  });

  it('a wrong hypothesis makes it exit 1 with observed vs expected', async () => {
    const wrong = SPLIT.replace('green: ">= 12%"', 'green: ">= 90%"');
    const { file, dir } = await suiteFile(`name: wrong\n${ENVIRONMENT}experiments:\n${wrong}`);
    const r = await run([file, '--junit', path.join(dir, 'junit.xml')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/wrong\s+weighted split by host\s+FAIL/);
    expect(r.stdout).toMatch(/✘ wrong › weighted split by host › share version=green: observed \d+(\.\d+)?% \(\d+\/600\), expected >= 90%/);
    expect(r.stderr).toMatch(/✘ share version=green: observed/);
    expect(await readFile(path.join(dir, 'junit.xml'), 'utf8')).toMatch(/<failure message="share version=green: observed [^"]+, expected &gt;= 90%" type="hypothesis">/);
  });

  it('an invalid suite exits 2 listing file:line:col errors, starting nothing', async () => {
    const { file } = await suiteFile(`name: invalid\n${ENVIRONMENT}experiments:\n${SPLIT.replace('rate: 300', 'rate: 300, rte: 3')}`);
    const r = await run([file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:30:48 experiments[0].load.rte: unknown key "rte"`);
    expect(r.stdout).toMatch(/suite\.yaml\s+—\s+INVALID/);
  });

  it('an environment that cannot start exits 2 saying why', async () => {
    const { file } = await suiteFile(`name: no sidecar\n${ENVIRONMENT}experiments:\n${SPLIT}`);
    const stdout = new PassThrough();
    const stderr = new PassThrough().resume();
    let out = '';
    stdout.on('data', (c: Buffer) => { out += c.toString(); });
    const code = await chaosCommand([file], { cli: path.join(ROOT, 'no/such/cli.js'), stdout, stderr, handleSignals: false });
    expect(code).toBe(2);
    expect(out).toMatch(/no sidecar\s+—\s+ENVIRONMENT-FAILED/);
    expect(out).toMatch(/✘ no sidecar: local environment did not start: sidecar exited with 1 before listening\n.*Cannot find module/s);
  });

  it('on SIGINT stops the load, cleans up everything and exits 130', async () => {
    const slow = `  - name: long\n    load: { request: { host: web }, rate: 50, duration: 60s }\n    expect: { successRate: "== 100%" }\n`;
    const { file, dir } = await suiteFile(`name: interrupted\n${ENVIRONMENT}experiments:\n${slow}`);
    const json = path.join(dir, 'journal.json');
    const child = spawn(process.execPath, [
      '--experimental-transform-types', '--no-warnings', '--import', path.join(ROOT, 'test/kube/fixtures/ts-hooks.mjs'),
      path.join(ROOT, 'test/chaos/fixtures/run-chaos.ts'), CLI, file, '--json', json,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor(() => /req [1-9]/.test(err), { timeoutMs: 15_000, what: `the long experiment to send requests (stderr: ${err})` });
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(err).toContain('SIGINT: stopping, cleaning up');
    const { suites: [journal] } = JSON.parse(await readFile(json, 'utf8')) as { suites: SuiteJournal[] };
    expect(journal!.outcome).toBe('interrupted');
    await expectCleanedUp(journal!);
  });
});
