/**
 * The composition root: the one place that creates the engine, the registry, the listeners and the
 * snapshot reference. `pilotfish run` and the integration tests both start the sidecar through here.
 *
 * Reload is validate → compile → build → swap: the new policy is loaded and its snapshot built aside
 * against a registry *plan*; only when that succeeds does the plan commit and the one `current`
 * reference change. Requests in flight keep the snapshot they started on. Any failure keeps the last
 * good snapshot and is recorded (log, `lastError` for /config_dump).
 *
 * Policies arrive as whole texts from sources (`offer`): the mounted file, and a fleet when one is
 * attached. Both take the same path; the one rule that tells them apart is precedence (SPEC §9):
 * while the fleet holds a policy it wins, the file is the bootstrap and the fallback, and listener
 * settings always come from the file.
 *
 * The workload identity (SPEC §12) is loaded once at start, before anything listens, and rotates on
 * its own (identity/workload-identity.ts): the inbound TLS terminator and every `mutual` upstream
 * read its current material, so a rotation needs no reload.
 */
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { formatDiagnostic, loadPolicyFile, parsePolicy, type Diagnostic, type Direction, type Policy } from './config/index.js';
import type { Snapshot } from './core/snapshot.js';
import { buildSnapshot } from './pipeline/build.js';
import { createEngine, DEFAULT_ENGINE, type EngineKind, type ForwardingEngine } from './proxy/engine.js';
import { RetryBudgets } from './pipeline/retry-budgets.js';
import { createListener, type InboundTls } from './proxy/listener.js';
import type { EdgeServer } from './proxy/tls-front.js';
import type { UpstreamTls } from './proxy/tls-connect.js';
import { TlsTerminator, upstreamTls, WorkloadIdentity } from './identity/index.js';
import { PolicyWatcher } from './reload/index.js';
import { createHealthServer, metricsRoute, type Telemetry } from './telemetry/index.js';
import { NO_OBSERVER, type RequestObserver } from './core/observer.js';
import { UpstreamRegistry, type Resolver } from './upstreams/index.js';
import { createAdminServer } from './admin/admin-server.js';
import type { AdminTarget } from './admin/target.js';
import { faultRoutes } from './admin/faults.js';
import { explainRoute } from './admin/explain.js';
import { NO_EVENTS, type ProxyEvents } from './core/events.js';
import type { OfferResult, PolicyOffer, PolicyOrigin, PolicySink, PolicySource } from './core/policy-source.js';
import { withStateLogs } from './core/logged-events.js';
import { BucketTicker, fullCollection, OverloadMonitor, RuntimeFaults } from './resilience/index.js';
import type { Locality, SharedSessionStore } from './routing/index.js';
import { RateLimiterRegistry, type LimiterFactories } from './ratelimit/index.js';

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

export interface FleetAttachment {
  readonly source: PolicySource;
  readonly sessions: SharedSessionStore;
  /** Makes the limiters of `scope: fleet` rate limits (shared through the fleet's Redis). */
  readonly limiters?: LimiterFactories['fleet'];
}

type ListenerName = 'outbound' | 'inbound' | 'admin' | 'telemetry';
export type Ports = Record<ListenerName, number>;

export class PolicyLoadError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(`invalid policy:\n${diagnostics.map(formatDiagnostic).join('\n')}`);
    this.name = 'PolicyLoadError';
  }
}

export type ReloadTrigger = 'start' | 'file' | 'signal' | 'admin' | 'fleet';
export interface ReloadResult extends OfferResult { result: 'ok' | 'unchanged' | 'error'; generation: number; errors?: Diagnostic[] }
export interface LastError {
  at: Date;
  trigger: ReloadTrigger;
  errors: Diagnostic[];
  /** Where the refused policy came from; for the fleet, which generation it was. */
  origin: PolicyOrigin;
  generation?: number | undefined;
}

export class Sidecar {
  private current!: Snapshot;
  private readonly ticker = new BucketTicker();
  private readonly events: ProxyEvents;
  private readonly observer: RequestObserver;
  private readonly registry: UpstreamRegistry;
  readonly faults = new RuntimeFaults();
  private readonly rateLimits: RateLimiterRegistry;
  private readonly budgets = new RetryBudgets();
  /** Load shedding under memory pressure; its settings follow the policy (`watchMemory`). */
  private readonly overload: OverloadMonitor;
  private readonly engine: ForwardingEngine;
  private readonly servers = new Map<ListenerName, EdgeServer>();
  private readonly watcher: PolicyWatcher | undefined;
  private inflight = 0;
  private idle: (() => void) | undefined;
  private draining = false;
  private listening = false;
  private lastHash = '';
  private lastSeen = '';
  /** Where the serving policy came from. */
  private servedFrom: PolicyOrigin = 'file';
  /** The last good file policy: a fleet policy is served with its local settings (listeners, locality). */
  private filePolicy!: Policy;
  /** Offers are evaluated one at a time, in arrival order. */
  private evaluating: Promise<unknown> = Promise.resolve();
  private bound: Ports = { outbound: 0, inbound: 0, admin: 0, telemetry: 0 };
  private failure: LastError | undefined;
  private reloading: Promise<ReloadResult> | undefined;
  private reloadAgain = false;
  private drained: Promise<boolean> | undefined;
  /** Called after each reload attempt (telemetry hooks in here). */
  onReload: ((r: ReloadResult, trigger: ReloadTrigger) => void) | undefined;

  private constructor(readonly options: SidecarOptions, engine: ForwardingEngine, private readonly identity: WorkloadIdentity | undefined) {
    this.events = withStateLogs(options.events ?? options.telemetry ?? NO_EVENTS, options.log);
    this.observer = options.telemetry ?? NO_OBSERVER;
    this.engine = engine;
    this.rateLimits = new RateLimiterRegistry(options.fleet?.limiters ? { fleet: options.fleet.limiters } : {});
    const t = options.telemetry;
    if (t) {
      t.metrics.pendingRequests(() => [...this.registry.all()].map((u) => [u.name, u.pool.pending] as const));
      t.metrics.memoryPercent(() => this.overload.percent);
      this.onReload = (r) => t.reloaded(r.result, this.current.generation, this.routeNames(), this.upstreamNames());
    }
    // Configured from the policy on every apply, before any request can arrive.
    this.overload = new OverloadMonitor({ shedAbove: 90, resumeBelow: 80, intervalMs: 250 }, { collect: fullCollection() });
    this.overload.on('change', (c) => this.events.overload({ shedding: c.shedding, percent: c.percent, used: c.sample.used, limit: c.sample.limit }));
    this.registry = new UpstreamRegistry({
      ticker: this.ticker, engine, events: this.events, log: options.log, locality: options.locality, ...(options.resolver ? { resolver: options.resolver } : {}),
    });
    if (options.watch !== false) {
      this.watcher = new PolicyWatcher(options.policyFile, () => void this.reload('file'), {}, (err) => options.log.warn({ err }, 'policy watch failed'));
    }
  }

  static async start(options: SidecarOptions): Promise<Sidecar> {
    const loaded = await loadPolicyFile(options.policyFile, { fleet: options.fleet !== undefined });
    if (!loaded.ok) throw new PolicyLoadError(loaded.errors);
    // The workload certificate must be usable before anything serves (it is the inbound TLS server's).
    const metrics = options.telemetry?.metrics;
    const identity = loaded.policy.identity && await WorkloadIdentity.load(loaded.policy.identity, {
      log: options.log, ...(metrics ? { onLoad: (result, notAfter) => metrics.certificate(result, notAfter) } : {}),
    });
    const sidecar = new Sidecar(options, await createEngine(options.engine ?? DEFAULT_ENGINE), identity);
    sidecar.warn(loaded.warnings);
    sidecar.filePolicy = loaded.policy;
    await sidecar.apply(loaded.policy, loaded.source, 'file');
    try {
      // The fleet's current policy, if it answers promptly, before the first request is served.
      await options.fleet?.source.start(sidecar.sink());
      await sidecar.listen();
      options.fleet?.source.onListening?.();
    } catch (err) {
      await sidecar.close();
      throw err;
    }
    sidecar.watcher?.start();
    identity?.start();
    sidecar.onReload?.({ result: 'ok', generation: sidecar.current.generation }, 'start');
    return sidecar;
  }

  get snapshot(): Snapshot { return this.current; }
  get lastError(): LastError | undefined { return this.failure; }
  /** Where the serving policy came from: the file or the fleet. */
  get origin(): PolicyOrigin { return this.servedFrom; }
  /** The fleet's state for /config_dump, when one is attached. */
  fleetState(): Record<string, unknown> | undefined { return this.options.fleet?.source.describe(); }
  /** The workload identity for /config_dump (SPEC §12), when the policy has one. */
  identityState(): Record<string, unknown> | undefined { return this.identity?.describe(); }
  /** The workload identity (its material and rotation), when the policy has one. */
  get workloadIdentity(): WorkloadIdentity | undefined { return this.identity; }
  get inflightRequests(): number { return this.inflight; }
  get isDraining(): boolean { return this.draining; }
  get upstreams(): UpstreamRegistry { return this.registry; }
  adminRoutes(): ReturnType<AdminTarget['adminRoutes']> { return [...faultRoutes(this.faults), explainRoute(() => this.current)]; }

  /** The ports actually bound (port 0 in the policy picks a free one). */
  get ports(): Ports {
    return this.bound;
  }

  /**
   * Reloads the policy file. Reloads run one at a time; a request for one while another runs makes
   * exactly one more run afterwards (bursts of file events coalesce). An unchanged file is a no-op.
   */
  reload(trigger: ReloadTrigger): Promise<ReloadResult> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    const run = async (): Promise<ReloadResult> => {
      let result: ReloadResult;
      do {
        this.reloadAgain = false;
        result = await this.reloadOnce(trigger);
      } while (this.reloadAgain);
      return result;
    };
    this.reloading = run().finally(() => { this.reloading = undefined; });
    return this.reloading;
  }

  private async reloadOnce(trigger: ReloadTrigger): Promise<ReloadResult> {
    const file = this.options.policyFile;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      return this.settle(trigger, `unreadable:${code}`, async () => this.fail(trigger, [{ file, line: 1, col: 1, path: '(file)', message: `cannot read policy: ${code}`, severity: 'error' }]));
    }
    return this.settle(trigger, hashOf(text), () => this.serialized(() => this.evaluate({ origin: 'file', text, name: file }, trigger)));
  }

  /** A source's offer of a whole policy (the fleet's); evaluated like a file reload, one at a time. */
  offer(o: PolicyOffer): Promise<ReloadResult> {
    return this.serialized(async () => {
      const result = await this.evaluate(o, o.origin === 'fleet' ? 'fleet' : 'file');
      this.onReload?.(result, o.origin === 'fleet' ? 'fleet' : 'file');
      return result;
    });
  }

  private sink(): PolicySink {
    return {
      offer: (o) => this.offer(o),
      serving: () => ({ origin: this.servedFrom, hash: this.current.hash, ports: this.bound }),
    };
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.evaluating.then(fn, fn);
    this.evaluating = run.catch(() => {});
    return run;
  }

  /**
   * validate → (precedence) → build → swap. A file offer while the fleet holds a policy is checked
   * (an invalid file is still reported: it is the fallback) but not applied.
   */
  private async evaluate(o: PolicyOffer, trigger: ReloadTrigger): Promise<ReloadResult> {
    if (o.unreadable !== undefined) return this.fail(trigger, [{ file: o.name, line: 1, col: 1, path: '(document)', message: o.unreadable, severity: 'error' }], o);
    const loaded = parsePolicy(o.text, o.name, { fleet: this.options.fleet !== undefined });
    if (!loaded.ok) return this.fail(trigger, loaded.errors, o);
    const hash = hashOf(o.text);
    if (o.origin === 'file') {
      this.filePolicy = loaded.policy;
      if (this.servedFrom === 'fleet') {
        if (this.failure?.origin === 'file') this.failure = undefined;
        this.options.log.info({ file: o.name }, 'policy file read; the fleet\'s policy keeps serving (the file is the fallback)');
        return { result: 'unchanged', generation: this.current.generation };
      }
    }
    if (hash === this.lastHash) {
      this.servedFrom = o.origin;
      this.failure = undefined; // the source is back to the policy we serve
      return { result: 'unchanged', generation: this.current.generation };
    }
    const policy = o.origin === 'fleet' ? withLocalSettings(loaded.policy, this.filePolicy) : loaded.policy;
    try {
      this.warn(loaded.warnings);
      await this.apply(policy, o.text, o.origin);
    } catch (err) {
      return this.fail(trigger, [{ file: o.name, line: 1, col: 1, path: '(build)', message: (err as Error).message, severity: 'error' }], o);
    }
    this.options.log.info({ trigger, generation: this.current.generation, ...(o.generation === undefined ? {} : { fleetGeneration: o.generation }) }, 'policy reloaded');
    return { result: 'ok', generation: this.current.generation };
  }

  /**
   * File events for content already seen (good or bad) are no-ops: a broken file is reported once,
   * not on every poll. SIGHUP and POST /reload always re-evaluate.
   */
  private async settle(trigger: ReloadTrigger, seen: string, evaluate: () => Promise<ReloadResult>): Promise<ReloadResult> {
    if (trigger === 'file' && seen === this.lastSeen) return { result: 'unchanged', generation: this.current.generation };
    this.lastSeen = seen;
    const result = await evaluate();
    this.onReload?.(result, trigger);
    return result;
  }

  private fail(trigger: ReloadTrigger, errors: Diagnostic[], o?: PolicyOffer): ReloadResult {
    const origin = o?.origin ?? 'file';
    this.failure = { at: new Date(), trigger, errors, origin, ...(o?.generation === undefined ? {} : { generation: o.generation }) };
    const which = o?.generation === undefined ? {} : { fleetGeneration: o.generation };
    this.options.log.error({ trigger, ...which, errors: errors.map(formatDiagnostic) }, 'policy reload failed; keeping the last good policy');
    return { result: 'error', generation: this.current.generation, errors };
  }

  /** plan → resolve → build → commit → swap. Throws (leaving everything as it was) if the build fails. */
  private async apply(policy: Policy, source: string, origin: PolicyOrigin): Promise<void> {
    const plan = this.registry.plan(policy, await this.originations(policy));
    let snapshot: Snapshot;
    try {
      // New upstreams with DNS-named endpoints learn their addresses before they take traffic.
      await Promise.all(plan.created.map((name) => plan.states.get(name)!.ready()));
      snapshot = buildSnapshot(policy, source, (this.current?.generation ?? 0) + 1, {
        states: plan.states, engine: this.engine, log: this.options.log, events: this.events, faults: this.faults, rateLimits: this.rateLimits, budgets: this.budgets,
        pressure: this.overload,
        ...(this.options.fleet ? { sessions: this.options.fleet.sessions } : {}),
      });
    } catch (err) {
      plan.abort();
      throw err;
    }
    if (this.current && JSON.stringify(this.current.policy.listeners) !== JSON.stringify(policy.listeners)) {
      this.options.log.warn('listeners changed: the new addresses take effect on restart');
    }
    if (this.current && JSON.stringify(this.current.policy.identity) !== JSON.stringify(policy.identity)) {
      this.options.log.warn('identity changed: the new certificate files and trust domain take effect on restart');
    }
    warnUnplaced(policy, this.options.locality, this.options.log);
    plan.commit();
    this.rateLimits.retain(policy.routes.map((r) => r.name));
    this.budgets.retain(policy.routes.map((r) => r.name));
    this.watchMemory(policy.overload);
    this.current = snapshot;
    this.servedFrom = origin;
    this.lastHash = hashOf(source);
    if (origin === 'file') this.lastSeen = this.lastHash;
    this.failure = undefined;
  }

  /** The overload monitor follows the policy's `overload` block (live: no restart needed). */
  private watchMemory(o: Policy['overload']): void {
    this.overload.configure({ shedAbove: o.shedAbove, resumeBelow: o.resumeBelow, intervalMs: o.interval });
  }

  /** TLS origination for each upstream with a `tls` block (a `simple` one's caFile is read here). */
  private async originations(policy: Policy): Promise<Map<string, UpstreamTls>> {
    const out = new Map<string, UpstreamTls>();
    for (const [name, up] of Object.entries(policy.upstreams)) {
      if (up.tls === undefined || up.tls.mode === 'disable') continue;
      out.set(name, await upstreamTls(name, { ...up.tls, mode: up.tls.mode }, { identity: this.identity, log: this.options.log }));
    }
    return out;
  }

  /** The inbound listener's mutual TLS, unless its mode is `disable` (validation requires an identity otherwise). */
  private inboundTls(): InboundTls | undefined {
    const mode = this.current.policy.listeners.inbound.tls.mode;
    const identity = this.identity;
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

  private routeNames(): string[] {
    return [...this.current.policy.routes.map((r) => r.name), 'inbound|app', 'outbound|passthrough'];
  }

  private upstreamNames(): string[] {
    return [...this.registry.all()].map((u) => u.name);
  }

  private warn(warnings: Diagnostic[]): void {
    for (const w of warnings) this.options.log.warn({ diagnostic: formatDiagnostic(w) }, 'policy warning');
  }

  private async listen(): Promise<void> {
    const l = this.current.policy.listeners;
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
        direction, current: () => this.current, engine: this.engine, log: this.options.log, draining: () => this.draining, track, observer: this.observer,
        limits: l[direction], events: this.events, overload: this.overload,
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
    this.overload.start();
    this.options.log.info({
      ports: this.ports, generation: this.current.generation, engine: this.options.engine ?? DEFAULT_ENGINE, execArgv: process.execArgv,
      inboundTls: this.current.policy.listeners.inbound.tls.mode, ...(this.identity ? { spiffeId: this.identity.spiffeId } : {}),
    }, 'listening');
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
    this.watcher?.stop();
    this.identity?.stop();
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
    this.watcher?.stop();
    this.identity?.stop();
    await this.options.fleet?.source.stop().catch((err: unknown) => this.options.log.warn({ err }, 'fleet: leaving failed'));
    for (const s of this.servers.values()) { s.close(); s.closeAllConnections(); }
    this.engine.close();
    this.overload.stop();
    this.registry.dispose();
    this.faults.dispose();
    this.ticker.dispose();
  }
}

/** A locality-aware upstream on a sidecar that does not know its own place balances over one tier. */
function warnUnplaced(policy: Policy, override: Locality | undefined, log: Logger): void {
  if (override ?? policy.locality) return;
  const names = Object.entries(policy.upstreams).filter(([, u]) => u.locality?.enabled).map(([n]) => n);
  if (names.length) log.warn({ upstreams: names }, 'locality-aware upstreams, but this sidecar\'s locality is unknown (set `locality` in the policy or PILOTFISH_LOCALITY): their endpoints form one tier');
}

/**
 * What belongs to this sidecar, not to the fleet, comes from its file only: the listeners (ports,
 * addresses, the admin token) and its own place (`locality`), whatever a published policy says.
 */
function withLocalSettings(fleet: Policy, file: Policy): Policy {
  const { locality: _ignored, identity: _own, ...shared } = fleet;
  return {
    ...shared, listeners: file.listeners,
    ...(file.locality === undefined ? {} : { locality: file.locality }),
    ...(file.identity === undefined ? {} : { identity: file.identity }),
  };
}

function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function isLoopback(address: string): boolean {
  return address === 'localhost' || address === '::1' || address.startsWith('127.');
}
