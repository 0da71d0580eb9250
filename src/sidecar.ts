/**
 * The composition root of the sidecar: the data plane (dataplane/: the snapshot reference, the
 * registry, the engine, reload and the policy sources — shared with library mode) plus the sidecar's
 * own edges: the outbound and inbound listeners, the admin API and the telemetry port, and the drain.
 * `pilotfish run` and the integration tests both start the sidecar through here. The workload
 * identity (SPEC §12) is the data plane's (mutual upstreams use it too); the inbound TLS terminator
 * here reads its current material, so a rotation needs no reload.
 */
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import type { Logger } from 'pino';
import type { Direction } from './config/index.js';
import type { Snapshot } from './core/snapshot.js';
import { DEFAULT_ENGINE, type EngineKind } from './proxy/engine.js';
import { createListener, type InboundTls } from './proxy/listener.js';
import type { EdgeServer } from './proxy/edge-front.js';
import { TlsTerminator, type WorkloadIdentity } from './identity/index.js';
import { createHealthServer, metricsRoute, type Telemetry } from './telemetry/index.js';
import type { UpstreamRegistry, Resolver } from './upstreams/index.js';
import { createAdminServer } from './admin/admin-server.js';
import type { AdminTarget } from './admin/target.js';
import { faultRoutes } from './admin/faults.js';
import { explainRoute } from './admin/explain.js';
import type { ProxyEvents } from './core/events.js';
import type { PolicyOffer, PolicyOrigin } from './core/policy-source.js';
import type { RuntimeFaults } from './resilience/index.js';
import type { Locality } from './routing/index.js';
import { DataPlane, type FleetAttachment, type LastError, type ReloadResult, type ReloadTrigger } from './dataplane/index.js';

export { PolicyLoadError, type FleetAttachment, type LastError, type ReloadResult, type ReloadTrigger } from './dataplane/index.js';

export interface SidecarOptions {
  readonly policyFile: string;
  readonly log: Logger;
  /** How long in-flight requests may take to finish on SIGTERM (ms). Default 20s. */
  readonly drainTimeoutMs?: number;
  /** The forwarding engine (`DEFAULT_ENGINE` unless set): `undici`, `node` (node:http directly) or `http-proxy-3`. */
  readonly engine?: EngineKind;
  /** Watch the policy file and reload on change. Default true. */
  readonly watch?: boolean;
  /** Admin bearer token; overrides `listeners.admin.token` (env PILOTFISH_ADMIN_TOKEN in the CLI). */
  readonly adminToken?: string | undefined;
  /** Where the data plane reports (telemetry). Default: nowhere. */
  readonly events?: ProxyEvents;
  /** Metrics, traces and the access log; also serves /metrics on the telemetry port. */
  readonly telemetry?: Telemetry;
  /** DNS resolver for named endpoints (tests); default the system's. */
  readonly resolver?: Resolver;
  /** The sidecar's own place, overriding the policy's `locality` (env `PILOTFISH_LOCALITY` in the CLI). */
  readonly locality?: Locality | undefined;
  /** A fleet (SPEC §9): its policy source, and the shared session store of `sticky.cookie.shared`. */
  readonly fleet?: FleetAttachment;
}

type ListenerName = 'outbound' | 'inbound' | 'admin' | 'telemetry';
export type Ports = Record<ListenerName, number>;

export class Sidecar {
  private readonly plane: DataPlane;
  private readonly servers = new Map<ListenerName, EdgeServer>();
  private inflight = 0;
  private idle: (() => void) | undefined;
  private draining = false;
  private listening = false;
  private bound: Ports = { outbound: 0, inbound: 0, admin: 0, telemetry: 0 };
  private drained: Promise<boolean> | undefined;

  private constructor(readonly options: SidecarOptions, plane: DataPlane) {
    this.plane = plane;
  }

  static async start(options: SidecarOptions): Promise<Sidecar> {
    const plane = await DataPlane.create({
      policy: { file: options.policyFile }, log: options.log, engine: options.engine, watch: options.watch, events: options.events,
      telemetry: options.telemetry, resolver: options.resolver, locality: options.locality, fleet: options.fleet, warnListenerChanges: true, shedOnMemory: true,
    });
    const sidecar = new Sidecar(options, plane);
    try {
      await plane.startSources();
      await sidecar.listen();
    } catch (err) {
      await sidecar.close();
      throw err;
    }
    plane.serving(sidecar.bound);
    return sidecar;
  }

  get snapshot(): Snapshot { return this.plane.snapshot; }
  get lastError(): LastError | undefined { return this.plane.lastError; }
  /** Where the serving policy came from: the file or the fleet. */
  get origin(): PolicyOrigin { return this.plane.origin; }
  /** The fleet's state for /config_dump, when one is attached. */
  fleetState(): Record<string, unknown> | undefined { return this.plane.fleetState(); }
  /** The workload identity for /config_dump (SPEC §12), when the policy has one. */
  identityState(): Record<string, unknown> | undefined { return this.plane.identity?.describe(); }
  /** The workload identity (its material and rotation), when the policy has one. */
  get workloadIdentity(): WorkloadIdentity | undefined { return this.plane.identity; }
  get inflightRequests(): number { return this.inflight; }
  get isDraining(): boolean { return this.draining; }
  get upstreams(): UpstreamRegistry { return this.plane.registry; }
  get faults(): RuntimeFaults { return this.plane.faults; }
  adminRoutes(): ReturnType<AdminTarget['adminRoutes']> { return [...faultRoutes(this.plane.faults), explainRoute(() => this.plane.snapshot)]; }

  /** The ports actually bound (port 0 in the policy picks a free one). */
  get ports(): Ports {
    return this.bound;
  }

  /**
   * Reloads the policy file. Reloads run one at a time; a request for one while another runs makes
   * exactly one more run afterwards (bursts of file events coalesce). An unchanged file is a no-op.
   */
  reload(trigger: ReloadTrigger): Promise<ReloadResult> {
    return this.plane.reload(trigger);
  }

  /** A source's offer of a whole policy (the fleet's); evaluated like a file reload, one at a time. */
  offer(o: PolicyOffer): Promise<ReloadResult> {
    return this.plane.offer(o);
  }

  private async listen(): Promise<void> {
    const l = this.plane.snapshot.policy.listeners;
    const token = this.options.adminToken ?? l.admin.token;
    if (!token && !isLoopback(l.admin.address)) {
      throw new Error(`admin listener on ${l.admin.address} needs listeners.admin.token (or PILOTFISH_ADMIN_TOKEN): refusing to expose it without one`);
    }
    const track = {
      begin: () => { this.inflight++; },
      end: () => { if (--this.inflight === 0) this.idle?.(); },
    };
    for (const direction of ['outbound', 'inbound'] as Direction[]) {
      this.servers.set(direction, createListener({
        direction, current: () => this.plane.snapshot, engine: this.plane.engine, log: this.options.log, draining: () => this.draining, track, observer: this.plane.observer,
        limits: l[direction], events: this.plane.events, overload: this.plane.overload ?? NOT_SHEDDING,
        tls: direction === 'inbound' ? this.inboundTls() : undefined,
      }));
    }
    this.servers.set('admin', createAdminServer(this, token));
    const extra = this.options.telemetry ? [metricsRoute(this.options.telemetry.metrics.registry)] : [];
    this.servers.set('telemetry', createHealthServer({ live: () => true, ready: () => this.listening && !this.draining }, extra));
    await Promise.all([...this.servers].map(async ([name, server]) => {
      server.listen(l[name].port, l[name].address);
      await once(server, 'listening');
    }));
    const port = (name: ListenerName): number => (this.servers.get(name)!.address() as AddressInfo).port;
    this.bound = { outbound: port('outbound'), inbound: port('inbound'), admin: port('admin'), telemetry: port('telemetry') };
    this.listening = true;
    this.plane.overload?.start();
    const identity = this.plane.identity;
    this.options.log.info({
      ports: this.ports, generation: this.plane.snapshot.generation, engine: this.options.engine ?? DEFAULT_ENGINE, execArgv: process.execArgv,
      inboundTls: l.inbound.tls.mode, ...(identity ? { spiffeId: identity.spiffeId } : {}),
    }, 'listening');
  }

  /** The inbound listener's mutual TLS, unless its mode is `disable` (validation requires an identity otherwise). */
  private inboundTls(): InboundTls | undefined {
    const mode = this.plane.snapshot.policy.listeners.inbound.tls.mode;
    const identity = this.plane.identity;
    if (mode === 'disable' || identity === undefined) return undefined;
    const metrics = this.options.telemetry?.metrics;
    return {
      mode,
      terminator: (accept) => new TlsTerminator({
        identity, listener: 'inbound', log: this.options.log,
        ...(metrics ? { onRefused: (reason) => metrics.tlsHandshakeError('inbound', reason) } : {}),
      }, accept),
    };
  }

  /**
   * Graceful drain: readiness turns 503, listeners stop accepting, idle keep-alive connections close,
   * answers still in flight carry `Connection: close`; resolves when none is left or the drain
   * timeout passes (then the remaining connections are cut). Returns whether it finished cleanly.
   */
  drain(): Promise<boolean> {
    this.drained ??= this.drainOnce();
    return this.drained;
  }

  private async drainOnce(): Promise<boolean> {
    this.draining = true;
    this.plane.stopWatching();
    const timeout = this.options.drainTimeoutMs ?? 20_000;
    const proxies = [this.servers.get('outbound')!, this.servers.get('inbound')!];
    for (const s of proxies) { s.close(); s.closeIdleConnections(); }
    this.options.log.info({ inflight: this.inflight, timeoutMs: timeout }, 'draining');
    let clean = true;
    if (this.inflight > 0) {
      let timer: NodeJS.Timeout | undefined;
      clean = await new Promise<boolean>((resolve) => {
        this.idle = () => resolve(true);
        timer = setTimeout(() => resolve(false), timeout);
      });
      clearTimeout(timer);
    }
    for (const s of proxies) s.closeAllConnections();
    return clean;
  }

  async close(): Promise<void> {
    this.draining = true;
    await this.plane.stopSources();
    for (const s of this.servers.values()) { s.close(); s.closeAllConnections(); }
    this.plane.close();
  }
}

const NOT_SHEDDING = Object.freeze({ shedding: false, percent: 0 });

function isLoopback(address: string): boolean {
  return address === 'localhost' || address === '::1' || address.startsWith('127.');
}
