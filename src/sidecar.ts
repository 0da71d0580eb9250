/**
 * The composition root: the one place that creates the engine, the registry, the listeners and the
 * snapshot reference. `pilotfish run` and the integration tests both start the sidecar through here.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import type { Logger } from 'pino';
import { formatDiagnostic, loadPolicyFile, type Diagnostic, type Direction } from './config/index.js';
import type { Snapshot } from './core/snapshot.js';
import { buildSnapshot } from './pipeline/build.js';
import { HttpProxyEngine } from './proxy/http-proxy-engine.js';
import { createListener } from './proxy/listener.js';
import { createHealthServer } from './telemetry/health-server.js';
import { UpstreamRegistry } from './upstreams/index.js';

export interface SidecarOptions {
  readonly policyFile: string;
  readonly log: Logger;
  /** How long in-flight requests may take to finish on SIGTERM (ms). Default 20s. */
  readonly drainTimeoutMs?: number;
}

export interface Ports { outbound: number; inbound: number; telemetry: number }

export class PolicyLoadError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(`invalid policy:\n${diagnostics.map(formatDiagnostic).join('\n')}`);
    this.name = 'PolicyLoadError';
  }
}

export class Sidecar {
  private current!: Snapshot;
  private readonly registry = new UpstreamRegistry();
  private readonly engine = new HttpProxyEngine();
  private readonly servers = new Map<'outbound' | 'inbound' | 'telemetry', http.Server>();
  private inflight = 0;
  private idle: (() => void) | undefined;
  private draining = false;
  private listening = false;

  private constructor(private readonly options: SidecarOptions) {}

  static async start(options: SidecarOptions): Promise<Sidecar> {
    const loaded = await loadPolicyFile(options.policyFile);
    if (!loaded.ok) throw new PolicyLoadError(loaded.errors);
    for (const w of loaded.warnings) options.log.warn({ diagnostic: formatDiagnostic(w) }, 'policy warning');
    const sidecar = new Sidecar(options);
    sidecar.current = buildSnapshot(loaded.policy, loaded.source, 1, { registry: sidecar.registry, engine: sidecar.engine, log: options.log });
    try {
      await sidecar.listen();
    } catch (err) {
      await sidecar.close();
      throw err;
    }
    return sidecar;
  }

  get snapshot(): Snapshot {
    return this.current;
  }

  get ports(): Ports {
    const port = (name: 'outbound' | 'inbound' | 'telemetry'): number => (this.servers.get(name)!.address() as AddressInfo).port;
    return { outbound: port('outbound'), inbound: port('inbound'), telemetry: port('telemetry') };
  }

  get inflightRequests(): number {
    return this.inflight;
  }

  private async listen(): Promise<void> {
    const l = this.current.policy.listeners;
    const track = {
      begin: () => { this.inflight++; },
      end: () => { if (--this.inflight === 0) this.idle?.(); },
    };
    for (const direction of ['outbound', 'inbound'] as Direction[]) {
      this.servers.set(direction, createListener({
        direction, current: () => this.current, engine: this.engine, log: this.options.log, draining: () => this.draining, track,
      }));
    }
    this.servers.set('telemetry', createHealthServer({ live: () => true, ready: () => this.listening && !this.draining }));
    const binds = { outbound: l.outbound, inbound: l.inbound, telemetry: l.telemetry };
    await Promise.all([...this.servers].map(async ([name, server]) => {
      server.listen(binds[name].port, binds[name].address);
      await once(server, 'listening');
    }));
    this.listening = true;
    this.options.log.info({ ports: this.ports, generation: this.current.generation }, 'listening');
  }

  /**
   * Graceful drain: readiness turns 503, listeners stop accepting, idle keep-alive connections close,
   * answers still in flight carry `Connection: close`; resolves when none is left or the drain
   * timeout passes (then the remaining connections are cut). Returns whether it finished cleanly.
   */
  async drain(): Promise<boolean> {
    this.draining = true;
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
    for (const s of this.servers.values()) { s.close(); s.closeAllConnections(); }
    this.engine.close();
    this.registry.dispose();
  }
}
