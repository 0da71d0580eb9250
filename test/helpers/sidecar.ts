/** Starts the real sidecar for a test: in-process (fast) or as a real `pilotfish run` process. */
import { afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createLogger } from '../../src/log.js';
import { DEFAULT_ENGINE, isEngineKind, type EngineKind } from '../../src/proxy/engine.js';
import { Sidecar, type Ports } from '../../src/sidecar.js';
import { Telemetry } from '../../src/telemetry/index.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(ROOT, 'dist/cli/main.js');

/** Listener block binding every port to 127.0.0.1:0, to splice into test policies. */
export function testListeners(app = 'http://127.0.0.1:1'): string {
  return `listeners:
  outbound: { port: 0, address: 127.0.0.1 }
  inbound: { port: 0, address: 127.0.0.1, app: "${app}" }
  admin: { port: 0 }
  telemetry: { port: 0, address: 127.0.0.1 }
`;
}

export async function writePolicy(text: string, name = 'policy.yaml'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pilotfish-test-'));
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

/** The forwarding engine tests run the sidecar with unless a suite picks one: `PILOTFISH_ENGINE`, else the default. */
export const TEST_ENGINE: EngineKind = isEngineKind(process.env.PILOTFISH_ENGINE) ? process.env.PILOTFISH_ENGINE : DEFAULT_ENGINE;

export async function startSidecar(policy: string, opts: { drainTimeoutMs?: number; engine?: EngineKind } = {}): Promise<Sidecar> {
  const policyFile = await writePolicy(policy);
  return Sidecar.start({ policyFile, log: createLogger((process.env.PILOTFISH_TEST_LOG as 'info' | undefined) ?? 'silent'), engine: TEST_ENGINE, ...opts });
}

export interface SidecarProcess {
  child: ChildProcess;
  ports: Ports;
  logs: Array<Record<string, unknown>>;
  /** Lines the process wrote on stdout (the access log). */
  stdout: string[];
  /** Every line it wrote on stderr, JSON or not. */
  stderr: string[];
  exited: Promise<number | null>;
}

/**
 * Every `pilotfish run` this test file spawned that has not exited yet. A test that times out
 * before its cleanup would otherwise leave its sidecars running after the run (health-checking,
 * reconnecting to a Redis long gone): they are killed after the file's last hook (this module is
 * evaluated once per test file, so the hook lands on each file's root suite).
 */
const running = new Set<ChildProcess>();
afterAll(() => { for (const child of running) child.kill('SIGKILL'); });

/** Spawns `pilotfish run` and resolves once it logs that it is listening. */
export async function spawnSidecar(policy: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<SidecarProcess> {
  const policyFile = await writePolicy(policy);
  const child = spawn(process.execPath, [CLI, 'run', '--policy', policyFile, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const stdout: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => stdout.push(line));
  const logs: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ports = await new Promise<Ports>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (line) => {
      stderr.push(line);
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === 'listening') resolve(entry.ports as Ports);
      } catch { /* not JSON: diagnostics */ }
    });
    void exited.then((code) => reject(new Error(`sidecar exited with ${code} before listening`)));
  });
  return { child, ports, logs, stdout, stderr, exited };
}

/** An in-process sidecar with real telemetry (no access log), for tests that read its metrics. */
export async function startObserved(policy: string, opts: { engine?: EngineKind } = {}): Promise<{ sidecar: Sidecar; metrics: () => Promise<string> }> {
  const telemetry = await Telemetry.create({ accessLog: { enabled: false } });
  const sidecar = await Sidecar.start({ policyFile: await writePolicy(policy), log: createLogger('silent'), engine: opts.engine ?? TEST_ENGINE, telemetry, watch: false });
  return { sidecar, metrics: () => telemetry.metrics.registry.metrics() };
}

/** The sum of a metric's series whose labels include `labels`, from Prometheus text. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
