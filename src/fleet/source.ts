/**
 * The fleet as a policy source for a sidecar: the watcher offers each new generation to the sidecar
 * (whole policy texts, through the same path as a file reload), the reporter tells the fleet what
 * this sidecar serves, and `describe()` is the `fleet` block of `/config_dump`.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { OfferMarks, PolicySink, PolicySource } from '../core/policy-source.js';
import type { FleetRateLimits } from './rate-limits.js';
import { Reporter, type SidecarReport } from './report.js';
import type { FleetStore, Generation } from './store.js';
import { FleetWatcher, type UnreadableGeneration } from './watcher.js';

export interface FleetSourceOptions {
  readonly store: FleetStore;
  readonly log: Logger;
  /** Where `pilotfish_fleet_connected` and `pilotfish_fleet_generation` are registered. */
  readonly registry?: Registry | undefined;
  /** Safety poll period, ms. Default 2 000. */
  readonly pollMs?: number | undefined;
  /** How long the sidecar's start waits for Redis, ms. Default 1 000. */
  readonly startTimeoutMs?: number | undefined;
  /** The fleet-wide rate limits on the same connection: shown in `describe()`, stopped with the source. */
  readonly rateLimits?: FleetRateLimits | undefined;
}

export class FleetSource implements PolicySource {
  /** This sidecar in `fleet status`: host, pid and a random suffix (pids repeat across pods). */
  readonly id = `${os.hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
  private readonly startedAt = new Date().toISOString();
  /** What a report says of where this sidecar runs, read once: `os.hostname()` is a system call, and a report follows every flip. */
  private readonly host = os.hostname();
  private readonly addressHost = process.env.POD_IP || this.host;
  private watcher: FleetWatcher | undefined;
  private reporter: Reporter | undefined;
  private sink: PolicySink | undefined;

  constructor(private readonly o: FleetSourceOptions) {
    if (o.registry) this.registerMetrics(o.registry);
  }

  async start(sink: PolicySink): Promise<void> {
    const { store, log } = this.o;
    this.sink = sink;
    const offer = (g: Generation | UnreadableGeneration, marks?: OfferMarks) => sink.offer({
      origin: 'fleet', name: `fleet:${store.fleet}@${g.generation}`, generation: g.generation, ...(marks ? { marks } : {}),
      ...('unreadable' in g ? { text: '', unreadable: g.unreadable } : { text: g.policy, ...(g.data === undefined ? {} : { data: g.data }) }),
    });
    this.reporter = new Reporter(store, this.id, () => this.report(), log);
    this.watcher = new FleetWatcher({
      store, log, apply: offer, onChange: () => this.reporter?.nudge(),
      ...(this.o.pollMs === undefined ? {} : { pollMs: this.o.pollMs }),
      ...(this.o.startTimeoutMs === undefined ? {} : { startTimeoutMs: this.o.startTimeoutMs }),
    });
    await this.watcher.start();
  }

  /** The sidecar listens: reports start (they carry its address). */
  onListening(): void {
    this.reporter?.start();
  }

  async stop(): Promise<void> {
    this.watcher?.stop();
    this.o.rateLimits?.stop();
    await this.reporter?.stop();
    await this.o.store.link.close();
  }

  describe(): Record<string, unknown> {
    const w = this.watcher;
    const served = w?.serving;
    return {
      key: this.o.store.fleet,
      url: this.o.store.link.target,
      connected: this.o.store.link.connected,
      generation: served?.generation ?? null,
      epoch: served?.epoch ?? null,
      store: w?.store ? { generation: w.store.generation, epoch: w.store.epoch ?? null } : null,
      warning: w?.warningText ?? null,
      lastError: w?.lastError ? { ...w.lastError, at: w.lastError.at.toISOString() } : null,
      sidecarId: this.id,
      ...(this.o.rateLimits ? { rateLimits: this.o.rateLimits.describe() } : {}),
    };
  }

  private report(): SidecarReport {
    const serving = this.sink!.serving();
    const w = this.watcher;
    const served = serving.origin === 'fleet' ? w?.serving : undefined;
    const e = w?.lastError;
    return {
      id: this.id, host: this.host, pid: process.pid,
      address: `${this.addressHost}:${serving.ports.outbound ?? 0}`,
      ports: serving.ports, source: serving.origin,
      generation: served?.generation ?? null, epoch: served?.epoch ?? null, hash: serving.hash,
      lastError: e ? { generation: e.generation, at: e.at.toISOString(), message: e.message } : null,
      warning: w?.warningText ?? null,
      startedAt: this.startedAt,
    };
  }

  private registerMetrics(registry: Registry): void {
    const link = this.o.store.link;
    const served = (): number => this.watcher?.serving?.generation ?? 0;
    new Gauge({ name: 'pilotfish_fleet_connected', help: 'Whether the fleet\'s Redis is reachable (1) or not (0).', registers: [registry], collect() { this.set(link.connected ? 1 : 0); } });
    new Gauge({ name: 'pilotfish_fleet_generation', help: 'The fleet generation this sidecar serves (0: none yet, the policy file).', registers: [registry], collect() { this.set(served()); } });
  }
}
