/**
 * Where a suite runs. `local`: the runner starts the fake upstreams (each behind a toxic proxy),
 * writes the policy, and starts `pilotfish run` as a real process — or, with `fleet`, several on
 * one fleet with a redis-server of their own — and owns all of it, so it can kill, degrade, swap
 * or publish policies and signal. `target`: a sidecar someone else runs, reached by URL;
 * only its admin API and traffic are available.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AdminClient } from './admin-client.js';
import { FakeUpstreams } from './fake-upstreams.js';
import { ChaosFleet } from './chaos-fleet.js';
import { PolicyFile } from './policy-file.js';
import { SidecarProcess } from './sidecar-process.js';
import type { LocalEnvironmentSpec, TargetEnvironmentSpec } from './suite-schema.js';

export interface Environment {
  readonly kind: 'local' | 'target';
  /** The sidecar listener the load goes to (the first sidecar's in a fleet; changes if it is restarted). */
  proxyUrl(): URL;
  /** Every sidecar's listener: the load is spread over them (one, unless the environment is a fleet). */
  proxyUrls(): URL[];
  /** The first sidecar's admin API. */
  admin(): AdminClient | undefined;
  /** Every sidecar's admin API (runtime faults go to each). */
  admins(): AdminClient[];
  /** The first sidecar's /metrics. */
  metricsUrl(): URL | undefined;
  readonly upstreams?: FakeUpstreams;
  readonly policy?: PolicyFile;
  /** The sidecars' fleet (its own redis-server), when the suite asks for one. */
  readonly fleet?: ChaosFleet;
  /** The first sidecar. */
  sidecar(): SidecarProcess | undefined;
  sidecars(): readonly SidecarProcess[];
  /** Starts every local sidecar that has exited again (same policy file). */
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
  let upstreams: FakeUpstreams | undefined;
  let fleet: ChaosFleet | undefined;
  const sidecars: SidecarProcess[] = [];
  try {
    upstreams = await FakeUpstreams.start(spec.upstreams);
    const policy = await PolicyFile.create(tmp, upstreams.table(), { inline: spec.policy, file: spec.policyFile && path.resolve(o.dir, spec.policyFile) });
    if (spec.fleet) fleet = await ChaosFleet.start(spec.fleet);
    const fleetArgs = fleet ? ['--fleet', fleet.url, '--fleet-key', fleet.key] : [];
    const start = async (): Promise<SidecarProcess> => {
      const p = await SidecarProcess.start({
        policyFile: policy.path, startTimeoutMs: spec.sidecar.startTimeout, args: [...spec.sidecar.args, ...fleetArgs],
        ...(o.cli === undefined ? {} : { cli: o.cli }),
        ...(spec.sidecar.drainTimeout === undefined ? {} : { drainTimeoutMs: spec.sidecar.drainTimeout }),
      });
      await waitReady(p, spec.sidecar.startTimeout);
      return p;
    };
    sidecars.push(...await Promise.all(Array.from({ length: spec.fleet?.sidecars ?? 1 }, start)));
    // The fleet holds the suite's policy from the start, as generation 1, on every sidecar.
    if (fleet) await fleet.publishInitial(policy.current, sidecars.map((p) => adminOf(p, policy)), spec.sidecar.startTimeout);
    return localEnvironment({ upstreams, policy, fleet, sidecars, start, tmp });
  } catch (err) {
    await Promise.all(sidecars.map((p) => p.stop()));
    await fleet?.close();
    await upstreams?.close();
    await rm(tmp, { recursive: true, force: true });
    throw new EnvironmentError(`local environment did not start: ${(err as Error).message}`);
  }
}

interface LocalParts {
  readonly upstreams: FakeUpstreams;
  readonly policy: PolicyFile;
  readonly fleet: ChaosFleet | undefined;
  readonly sidecars: SidecarProcess[];
  readonly start: () => Promise<SidecarProcess>;
  readonly tmp: string;
}

const loop = (port: number | undefined): URL | undefined => (port === undefined ? undefined : new URL(`http://127.0.0.1:${port}/`));

function adminOf(p: SidecarProcess, policy: PolicyFile): AdminClient | undefined {
  const u = loop(p.ports.admin);
  return u && new AdminClient(u, policy.adminToken());
}

function localEnvironment(parts: LocalParts): Environment {
  const { upstreams, policy, fleet, sidecars, start, tmp } = parts;
  const first = (): SidecarProcess => sidecars[0]!;
  return {
    kind: 'local', upstreams, policy, ...(fleet ? { fleet } : {}),
    proxyUrl: () => loop(first().ports.outbound)!,
    proxyUrls: () => sidecars.map((p) => loop(p.ports.outbound)!),
    admin: () => adminOf(first(), policy),
    admins: () => sidecars.flatMap((p) => adminOf(p, policy) ?? []),
    metricsUrl: () => new URL(`http://127.0.0.1:${first().ports.telemetry}/metrics`),
    sidecar: first,
    sidecars: () => sidecars,
    async reviveSidecar() {
      let revived = false;
      for (const [i, p] of sidecars.entries()) {
        if (p.running) continue;
        sidecars[i] = await start();
        revived = true;
      }
      return revived;
    },
    labelsOf: (instance) => upstreams.labelsOf(instance),
    describe: () => ({
      kind: 'local', policyFile: policy.path, sidecarPid: first().pid, ports: first().ports,
      ...(sidecars.length > 1 ? { sidecars: sidecars.map((p) => ({ pid: p.pid, ports: p.ports })) } : {}),
      ...(fleet ? { fleet: fleet.describe() } : {}),
      endpoints: upstreams.all().map((m) => ({ instance: m.fake.instance, address: m.proxy.address, endpointPort: m.fake.port, labels: m.labels })),
    }),
    async close() {
      await Promise.all(sidecars.map((p) => p.stop()));
      await fleet?.close();
      await upstreams.close();
      await rm(tmp, { recursive: true, force: true });
    },
    killNow: () => { for (const p of sidecars) p.killNow(); fleet?.killNow(); },
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
    proxyUrls: () => [new URL(spec.proxy)],
    admin: () => admin,
    admins: () => (admin ? [admin] : []),
    metricsUrl: () => (spec.metrics === undefined ? undefined : new URL(spec.metrics)),
    sidecar: () => undefined,
    sidecars: () => [],
    reviveSidecar: () => Promise.resolve(false),
    labelsOf: () => undefined,
    describe: () => ({ kind: 'target', proxy: spec.proxy, admin: spec.admin, metrics: spec.metrics }),
    close: () => Promise.resolve(),
    killNow: () => {},
  };
}
