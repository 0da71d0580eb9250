/**
 * The data plane without its edges: the one `current` snapshot reference, the upstream registry, the
 * engine, runtime faults, rate limiters, and the policy sources that feed them (the file, a fleet).
 * The sidecar composes it with its listeners and admin API; library mode (`createMesh`) composes it
 * with a fetch/`Dispatcher` edge. Both serve requests through `pipeline/serve.ts` on `current`.
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
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { formatDiagnostic, loadPolicyFile, parsePolicy, PolicyMemory, textHash, type Diagnostic, type LoadResult, type Policy } from '../config/index.js';
import type { Snapshot } from '../core/snapshot.js';
import { buildSnapshot, CompiledParts, type BuildDeps } from '../pipeline/build.js';
import { createEngine, DEFAULT_ENGINE, type EngineKind, type ForwardingEngine } from '../proxy/engine.js';
import { PolicyWatcher } from '../reload/index.js';
import type { Telemetry } from '../telemetry/index.js';
import { NO_OBSERVER, type RequestObserver } from '../core/observer.js';
import { UpstreamRegistry, type Resolver } from '../upstreams/index.js';
import { NO_EVENTS, type ProxyEvents } from '../core/events.js';
import { wallMs, type OfferMarks, type PolicyOffer, type PolicyOrigin, type PolicySink, type PolicySource } from '../core/policy-source.js';
import { withStateLogs } from '../core/logged-events.js';
import { BucketTicker, fullCollection, OverloadMonitor, RuntimeFaults } from '../resilience/index.js';
import { RetryBudgets } from '../pipeline/retry-budgets.js';
import { upstreamTls, WorkloadIdentity } from '../identity/index.js';
import type { UpstreamTls } from '../proxy/tls-connect.js';
import type { Locality, SharedSessionStore } from '../routing/index.js';
import { RateLimiterRegistry, type LimiterFactories } from '../ratelimit/index.js';
import { PolicyLoadError, type LastError, type ReloadResult, type ReloadTrigger } from './reload-result.js';
import { warnUnplaced, withLocalSettings } from './policy-rules.js';
import { warmNewlyRouted } from './warm-routes.js';

export { PolicyLoadError, type LastError, type ReloadResult, type ReloadTrigger };

/** Where the bootstrap policy comes from: a file (read, watched, reloaded) or a text held in memory. */
export type PolicyInput = { readonly file: string } | { readonly text: string; readonly name: string };

/** How many times a fleet sidecar builds its policy aside once listening (`warmFlipPath`): V8 gives a function feedback after ~8 calls. */
const WARM_BUILDS = 8;

export interface DataPlaneOptions {
  readonly policy: PolicyInput;
  readonly log: Logger;
  /** The forwarding engine (`DEFAULT_ENGINE` unless set). */
  readonly engine?: EngineKind | undefined;
  /** Watch the policy file and reload on change (a file policy only). Default true. */
  readonly watch?: boolean | undefined;
  /** Where the data plane reports. Default: `telemetry`, else nowhere. */
  readonly events?: ProxyEvents | undefined;
  /** Metrics, traces and the access log. */
  readonly telemetry?: Telemetry | undefined;
  /** DNS resolver for named endpoints (tests); default the system's. */
  readonly resolver?: Resolver | undefined;
  /** Our own place, overriding the policy's `locality`. */
  readonly locality?: Locality | undefined;
  /** A fleet (SPEC §9): its policy source, and the shared session store of `sticky.cookie.shared`. */
  readonly fleet?: FleetAttachment | undefined;
  /** Tell the operator when a reload changes `listeners` (they take effect on restart). Default false. */
  readonly warnListenerChanges?: boolean | undefined;
  /**
   * Shed load under memory pressure (the policy's `overload`): the sidecar's. Default false — in an
   * application the memory, and what to do when it runs short, are the application's.
   */
  readonly shedOnMemory?: boolean | undefined;
}

export interface FleetAttachment {
  readonly source: PolicySource;
  readonly sessions: SharedSessionStore;
  /** Makes the limiters of `scope: fleet` rate limits (shared through the fleet's Redis). */
  readonly limiters?: LimiterFactories['fleet'];
}

export class DataPlane {
  private current!: Snapshot;
  private readonly ticker = new BucketTicker();
  readonly events: ProxyEvents;
  readonly observer: RequestObserver;
  readonly registry: UpstreamRegistry;
  readonly faults = new RuntimeFaults();
  private readonly rateLimits: RateLimiterRegistry;
  private readonly budgets = new RetryBudgets();
  /** Load shedding under memory pressure; its settings follow the policy (`watchMemory`). Started by the edge. */
  readonly overload: OverloadMonitor | undefined;
  private readonly watcher: PolicyWatcher | undefined;
  private lastHash = '';
  /** The parts of the last policy validated: a reload validates only what changed. */
  private readonly memory = new PolicyMemory();
  /** The last snapshot's compiled routes: the next build reuses the unchanged ones. */
  private readonly compiled = new CompiledParts();
  private lastSeen = '';
  /** Where the serving policy came from. */
  private servedFrom: PolicyOrigin = 'file';
  /** The last good file policy: a fleet policy is served with its local settings (listeners, locality). */
  private filePolicy!: Policy;
  /** Offers are evaluated one at a time, in arrival order. */
  private evaluating: Promise<unknown> = Promise.resolve();
  private failure: LastError | undefined;
  private reloading: Promise<ReloadResult> | undefined;
  /** The trigger of the one more run a reload asked for while another ran; undefined: none asked. */
  private reloadAgain: ReloadTrigger | undefined;
  /** The ports the edge bound, for the fleet's reports (none in library mode). */
  private bound: Readonly<Record<string, number>> = {};
  private closed = false;
  /** Called after each reload attempt (telemetry hooks in here). */
  onReload: ((r: ReloadResult, trigger: ReloadTrigger) => void) | undefined;

  /**
   * The workload identity (SPEC §12), when the policy has one: loaded once at start, rotating on its
   * own (identity/workload-identity.ts); every `mutual` upstream (and the sidecar's inbound TLS)
   * reads its current material, so a rotation needs no reload.
   */
  private constructor(readonly options: DataPlaneOptions, readonly engine: ForwardingEngine, readonly identity: WorkloadIdentity | undefined) {
    this.events = withStateLogs(options.events ?? options.telemetry ?? NO_EVENTS, options.log);
    this.observer = options.telemetry ?? NO_OBSERVER;
    this.rateLimits = new RateLimiterRegistry(options.fleet?.limiters ? { fleet: options.fleet.limiters } : {});
    if (options.shedOnMemory) {
      // Configured from the policy on every apply, before any request can arrive.
      const overload = (this.overload = new OverloadMonitor({ shedAbove: 90, resumeBelow: 80, intervalMs: 250 }, { collect: fullCollection() }));
      overload.on('change', (c) => this.events.overload({ shedding: c.shedding, percent: c.percent, used: c.sample.used, limit: c.sample.limit }));
    }
    const t = options.telemetry;
    if (t) {
      t.metrics.pendingRequests(() => [...this.registry.all()].map((u) => [u.name, u.pool.pending] as const));
      const overload = this.overload;
      if (overload) t.metrics.memoryPercent(() => overload.percent);
      this.onReload = (r) => t.reloaded(r.result, this.current.generation, this.routeNames(), this.upstreamNames());
    }
    this.registry = new UpstreamRegistry({
      ticker: this.ticker, engine, events: this.events, log: options.log, locality: options.locality, ...(options.resolver ? { resolver: options.resolver } : {}),
    });
    const file = 'file' in options.policy ? options.policy.file : undefined;
    if (file !== undefined && options.watch !== false) {
      this.watcher = new PolicyWatcher(file, () => void this.reload('file'), {}, (err) => options.log.warn({ err }, 'policy watch failed'));
    }
  }

  /** Loads the bootstrap policy and builds the first snapshot; throws `PolicyLoadError` if it is invalid. */
  static async create(options: DataPlaneOptions): Promise<DataPlane> {
    const context = { fleet: options.fleet !== undefined };
    const p = options.policy;
    const loaded: LoadResult = 'file' in p ? await loadPolicyFile(p.file, context) : parsePolicy(p.text, p.name, context);
    if (!loaded.ok) throw new PolicyLoadError(loaded.errors);
    // The workload certificate must be usable before anything serves (the inbound TLS server's, mutual upstreams').
    const metrics = options.telemetry?.metrics;
    const identity = loaded.policy.identity && await WorkloadIdentity.load(loaded.policy.identity, {
      log: options.log, ...(metrics ? { onLoad: (result, notAfter) => metrics.certificate(result, notAfter) } : {}),
    });
    const plane = new DataPlane(options, await createEngine(options.engine ?? DEFAULT_ENGINE), identity);
    plane.warn(loaded.warnings);
    plane.filePolicy = loaded.policy;
    try {
      await plane.apply(loaded.policy, loaded.source, textHash(loaded.source), 'file');
    } catch (err) {
      plane.close();
      throw err;
    }
    return plane;
  }

  /** The fleet's current policy, if it answers promptly, before the first request is served. */
  async startSources(): Promise<void> {
    await this.options.fleet?.source.start(this.sink());
  }

  /** The edge is up (its bound ports, for the fleet's reports): file watching starts now. */
  serving(ports: Readonly<Record<string, number>>): void {
    this.bound = ports;
    this.options.fleet?.source.onListening?.();
    this.watcher?.start();
    this.identity?.start();
    this.onReload?.({ result: 'ok', generation: this.current.generation }, 'start');
    if (this.options.fleet) this.warmFlipPath(WARM_BUILDS);
  }

  /**
   * A fleet sidecar's flips are rare, so each would run the flip path cold (functions without
   * feedback yet, interpreted): once listening, off the ready path, the serving policy is validated
   * by part and built `n` times (one per macrotask) and thrown away — against a memory and compiled
   * parts of its own, and the registry's current state, so nothing serving changes.
   */
  private warmFlipPath(n: number): void {
    if (n <= 0 || this.closed) return;
    const snapshot = this.current;
    try {
      const policy = new PolicyMemory().check(snapshot.policy);
      if (policy) {
        const plan = this.registry.plan(policy);
        try {
          buildSnapshot(policy, snapshot.source, snapshot.generation, this.buildDeps(plan.states, new CompiledParts()));
        } finally {
          plan.abort();
        }
      }
    } catch (err) {
      this.options.log.debug({ err: (err as Error).message }, 'flip path warm-up stopped');
      return;
    }
    setImmediate(() => this.warmFlipPath(n - 1)).unref();
  }

  get snapshot(): Snapshot { return this.current; }
  get lastError(): LastError | undefined { return this.failure; }
  /** Where the serving policy came from: the file or the fleet. */
  get origin(): PolicyOrigin { return this.servedFrom; }
  /** The fleet's state for /config_dump, when one is attached. */
  fleetState(): Record<string, unknown> | undefined { return this.options.fleet?.source.describe(); }

  /**
   * Reloads the policy file. Reloads run one at a time; a request for one while another runs makes
   * exactly one more run afterwards (bursts of file events coalesce). An unchanged file is a no-op.
   * A policy held in memory re-evaluates its text (unchanged).
   */
  reload(trigger: ReloadTrigger): Promise<ReloadResult> {
    if (this.reloading) {
      // A forced reload (SIGHUP, admin, API) that joins a file event's run keeps its own rule: the run
      // after takes its trigger, so it re-evaluates content the file event had already seen.
      if (this.reloadAgain === undefined || this.reloadAgain === 'file') this.reloadAgain = trigger;
      return this.reloading;
    }
    const run = async (): Promise<ReloadResult> => {
      let result: ReloadResult;
      let next: ReloadTrigger | undefined = trigger;
      do {
        this.reloadAgain = undefined;
        result = await this.reloadOnce(next);
        next = this.reloadAgain;
      } while (next !== undefined);
      return result;
    };
    this.reloading = run().finally(() => { this.reloading = undefined; });
    return this.reloading;
  }

  private async reloadOnce(trigger: ReloadTrigger): Promise<ReloadResult> {
    const p = this.options.policy;
    if (!('file' in p)) {
      const hash = textHash(p.text);
      return this.settle(trigger, hash, () => this.serialized(() => this.evaluate({ origin: 'file', text: p.text, name: p.name }, trigger, hash)));
    }
    const file = p.file;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      return this.settle(trigger, `unreadable:${code}`, async () => this.fail(trigger, [{ file, line: 1, col: 1, path: '(file)', message: `cannot read policy: ${code}`, severity: 'error' }]));
    }
    const hash = textHash(text);
    return this.settle(trigger, hash, () => this.serialized(() => this.evaluate({ origin: 'file', text, name: file }, trigger, hash)));
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
      // The text's sha256 (a fleet generation's own `hash`), not the snapshot's policy hash: what
      // `fleet status` compares with the generations, known without hashing anything again.
      serving: () => ({ origin: this.servedFrom, hash: this.lastHash, ports: this.bound }),
    };
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.evaluating.then(fn, fn);
    this.evaluating = run.catch(() => {});
    return run;
  }

  /**
   * validate → (precedence) → build → swap. A file offer while the fleet holds a policy is checked
   * (an invalid file is still reported: it is the fallback) but not applied. `hash`: the text's
   * sha256, when the caller has it already.
   */
  private async evaluate(o: PolicyOffer, trigger: ReloadTrigger, hash?: string): Promise<ReloadResult> {
    if (o.unreadable !== undefined) return this.fail(trigger, [{ file: o.name, line: 1, col: 1, path: '(document)', message: o.unreadable, severity: 'error' }], o);
    const loaded = parsePolicy(o.text, o.name, { fleet: this.options.fleet !== undefined }, o.data, this.memory);
    if (o.marks) o.marks.validated = wallMs();
    if (!loaded.ok) return this.fail(trigger, loaded.errors, o);
    hash ??= textHash(o.text);
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
      await this.apply(policy, o.text, hash, o.origin, o.marks);
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

  /**
   * plan → resolve → build → commit → swap. Throws (leaving everything as it was) if the build fails.
   * `sourceHash` is `textHash(source)`, computed once by the caller; `marks`, if given, get `built` and `swapped`.
   */
  private async apply(policy: Policy, source: string, sourceHash: string, origin: PolicyOrigin, marks?: OfferMarks): Promise<void> {
    const plan = this.registry.plan(policy, await this.originations(policy));
    let snapshot: Snapshot;
    try {
      // New upstreams with DNS-named endpoints learn their addresses before they take traffic.
      await Promise.all(plan.created.map((name) => plan.states.get(name)!.ready()));
      snapshot = buildSnapshot(policy, source, (this.current?.generation ?? 0) + 1, this.buildDeps(plan.states, this.compiled));
    } catch (err) {
      plan.abort();
      throw err;
    }
    if (marks) marks.built = wallMs();
    // A fleet policy carries the file's own listeners and identity (the same objects): compared by reference first.
    if (this.options.warnListenerChanges && this.current && this.current.policy.listeners !== policy.listeners && JSON.stringify(this.current.policy.listeners) !== JSON.stringify(policy.listeners)) {
      this.options.log.warn('listeners changed: the new addresses take effect on restart');
    }
    if (this.current && this.current.policy.identity !== policy.identity && JSON.stringify(this.current.policy.identity) !== JSON.stringify(policy.identity)) {
      this.options.log.warn('identity changed: the new certificate files and trust domain take effect on restart');
    }
    warnUnplaced(policy, this.options.locality, this.options.log);
    plan.commit();
    // Cluster warming: what the new snapshot newly routes to starts its connections now, with nothing
    // waiting on them (the bootstrap snapshot's open on its first requests: start-up is not held).
    if (this.current) warmNewlyRouted(this.current.policy, policy, plan.states, plan.created);
    this.rateLimits.retain(policy.routes.map((r) => r.name));
    this.budgets.retain(policy.routes.map((r) => r.name));
    this.watchMemory(policy.overload);
    this.current = snapshot;
    if (marks) marks.swapped = wallMs();
    this.servedFrom = origin;
    this.lastHash = sourceHash;
    if (origin === 'file') this.lastSeen = this.lastHash;
    this.failure = undefined;
  }

  /** What a build of this data plane's snapshots is given: the plan's states, `compiled` to reuse (and keep) parts from. */
  private buildDeps(states: BuildDeps['states'], compiled: CompiledParts): BuildDeps {
    return {
      states, engine: this.engine, log: this.options.log, events: this.events, faults: this.faults, rateLimits: this.rateLimits, budgets: this.budgets, compiled,
      ...(this.overload ? { pressure: this.overload } : {}),
      ...(this.options.fleet ? { sessions: this.options.fleet.sessions } : {}),
    };
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

  /** The overload monitor follows the policy's `overload` block (live: no restart needed). */
  private watchMemory(o: Policy['overload']): void {
    this.overload?.configure({ shedAbove: o.shedAbove, resumeBelow: o.resumeBelow, intervalMs: o.interval });
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

  /** Stops watching the policy file and the certificate files (a draining sidecar takes nothing new from them). */
  stopWatching(): void {
    this.watcher?.stop();
    this.identity?.stop();
  }

  /** Stops the sources (the file and certificate watches, the fleet); requests already running keep their snapshot. */
  async stopSources(): Promise<void> {
    this.stopWatching();
    await this.options.fleet?.source.stop().catch((err: unknown) => this.options.log.warn({ err }, 'fleet: leaving failed'));
  }

  /** Releases every connection, timer and upstream state. Call after `stopSources`, with no request left. */
  close(): void {
    this.closed = true;
    this.stopWatching();
    this.engine.close();
    this.overload?.stop();
    this.registry.dispose();
    this.faults.dispose();
    this.ticker.dispose();
  }
}
