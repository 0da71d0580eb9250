/**
 * Where a suite runs. `local`: the runner starts the fake upstreams (each behind a toxic proxy),
 * writes the policy, and starts `pilotfish run` as a real process — and owns all of it, so it can
 * kill, degrade, swap policies and signal. `target`: a sidecar someone else runs, reached by URL;
 * only its admin API and traffic are available.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AdminClient } from './admin-client.js';
import { FakeFleet } from './fake-fleet.js';
import { PolicyFile } from './policy-file.js';
import { SidecarProcess } from './sidecar-process.js';
import type { LocalEnvironmentSpec, TargetEnvironmentSpec } from './suite-schema.js';

export interface Environment {
  readonly kind: 'local' | 'target';
  /** The sidecar listener the load goes to (changes if a local sidecar is restarted). */
  proxyUrl(): URL;
  admin(): AdminClient | undefined;
  metricsUrl(): URL | undefined;
  readonly fleet?: FakeFleet;
  readonly policy?: PolicyFile;
  sidecar(): SidecarProcess | undefined;
  /** Starts the local sidecar again (same policy file) if it has exited. */
  reviveSidecar(): Promise<boolean>;
  labelsOf(instance: string): Readonly<Record<string, string>> | undefined;
  describe(): Record<string, unknown>;
  close(): Promise<void>;
  /** Synchronous last resort (process `exit`): kill what can be killed. */
  killNow(): void;
}

export class EnvironmentError extends Error {
  override readonly name = 'EnvironmentError';
}

export interface LocalOptions {
  /** Directory relative policy paths resolve against (the suite's). */
  readonly dir: string;
  /** The pilotfish CLI script to run the sidecar with. */
  readonly cli?: string | undefined;
}

export async function startLocal(spec: LocalEnvironmentSpec, o: LocalOptions): Promise<Environment> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'pilotfish-chaos-'));
  let fleet: FakeFleet | undefined;
  let sidecar: SidecarProcess | undefined;
  try {
    fleet = await FakeFleet.start(spec.upstreams);
    const policy = await PolicyFile.create(tmp, fleet.table(), { inline: spec.policy, file: spec.policyFile && path.resolve(o.dir, spec.policyFile) });
    const start = async (): Promise<SidecarProcess> => {
      const p = await SidecarProcess.start({
        policyFile: policy.path, startTimeoutMs: spec.sidecar.startTimeout, args: spec.sidecar.args,
        ...(o.cli === undefined ? {} : { cli: o.cli }),
        ...(spec.sidecar.drainTimeout === undefined ? {} : { drainTimeoutMs: spec.sidecar.drainTimeout }),
      });
      await waitReady(p, spec.sidecar.startTimeout);
      return p;
    };
    sidecar = await start();
    return localEnvironment(fleet, policy, sidecar, start, tmp);
  } catch (err) {
    await sidecar?.stop();
    await fleet?.close();
    await rm(tmp, { recursive: true, force: true });
    throw new EnvironmentError(`local environment did not start: ${(err as Error).message}`);
  }
}

function localEnvironment(fleet: FakeFleet, policy: PolicyFile, first: SidecarProcess, start: () => Promise<SidecarProcess>, tmp: string): Environment {
  let sidecar = first;
  const token = policy.adminToken();
  const loop = (port: number | undefined): URL | undefined => (port === undefined ? undefined : new URL(`http://127.0.0.1:${port}/`));
  return {
    kind: 'local', fleet, policy,
    proxyUrl: () => loop(sidecar.ports.outbound)!,
    admin: () => { const u = loop(sidecar.ports.admin); return u && new AdminClient(u, token); },
    metricsUrl: () => new URL(`http://127.0.0.1:${sidecar.ports.telemetry}/metrics`),
    sidecar: () => sidecar,
    async reviveSidecar() {
      if (sidecar.running) return false;
      sidecar = await start();
      return true;
    },
    labelsOf: (instance) => fleet.labelsOf(instance),
    describe: () => ({
      kind: 'local', policyFile: policy.path, sidecarPid: sidecar.pid, ports: sidecar.ports,
      endpoints: fleet.all().map((m) => ({ instance: m.fake.instance, address: m.proxy.address, endpointPort: m.fake.port, labels: m.labels })),
    }),
    async close() {
      await sidecar.stop();
      await fleet.close();
      await rm(tmp, { recursive: true, force: true });
    },
    killNow: () => sidecar.killNow(),
  };
}

/** Waits until `/healthz/ready` answers 200: the sidecar says it can serve. */
async function waitReady(p: SidecarProcess, timeoutMs: number): Promise<void> {
  const url = `http://127.0.0.1:${p.ports.telemetry}/healthz/ready`;
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const status = await fetch(url, { signal: AbortSignal.timeout(1000) }).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (!p.running) break;
    await sleep(25);
  }
  await p.stop();
  throw new Error(`sidecar not ready (${url}) within ${timeoutMs}ms\n${p.logTail.join('\n')}`);
}

export function targetEnvironment(spec: TargetEnvironmentSpec): Environment {
  const admin = spec.admin === undefined ? undefined : new AdminClient(new URL(spec.admin), spec.token);
  return {
    kind: 'target',
    proxyUrl: () => new URL(spec.proxy),
    admin: () => admin,
    metricsUrl: () => (spec.metrics === undefined ? undefined : new URL(spec.metrics)),
    sidecar: () => undefined,
    reviveSidecar: () => Promise.resolve(false),
    labelsOf: () => undefined,
    describe: () => ({ kind: 'target', proxy: spec.proxy, admin: spec.admin, metrics: spec.metrics }),
    close: () => Promise.resolve(),
    killNow: () => {},
  };
}
