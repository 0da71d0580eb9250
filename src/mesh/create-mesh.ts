/**
 * Library mode (SPEC §10): the sidecar's outbound path inside the application, with no port and no
 * proxy hop. `createMesh` composes the same data plane as the sidecar (dataplane/: snapshot,
 * registry, engine, faults, reload, fleet) with an in-process edge — an undici `Dispatcher`
 * (dispatcher.ts) that hands each call to the outbound listener's own request core. `mesh.fetch` is
 * WHATWG fetch (the runtime's own) through that dispatcher, so Request objects, streaming bodies,
 * AbortSignal and redirects behave exactly as the application's `fetch` does.
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Dispatcher } from 'undici';
import { pino } from 'pino';
import type { Snapshot } from '../core/snapshot.js';
import { DataPlane, type FleetAttachment, type ReloadResult } from '../dataplane/index.js';
import { explainRequest, type ExplainResult } from '../explain/explain.js';
import type { EngineKind } from '../proxy/engine.js';
import type { RuntimeFault, RuntimeFaultInput } from '../resilience/index.js';
import type { Locality } from '../routing/index.js';
import { Telemetry } from '../telemetry/index.js';
import { appTracing } from './app-tracing.js';
import { MeshDispatcher } from './dispatcher.js';
import { policyInput, policyText, type MeshPolicy } from './policy-input.js';

export interface MeshOptions {
  /**
   * The policy (SPEC §4): a file path (read, watched and reloaded like the sidecar's), policy text
   * (YAML or JSON: a string with a line break or starting with `{`), or a policy object.
   * `listeners` are ignored: the mesh opens no port.
   */
  readonly policy: MeshPolicy;
  /** Watch a policy file and reload on change, as the sidecar does. Default true. */
  readonly watch?: boolean;
  /** A fleet's Redis URL (`redis://…`, SPEC §9): the mesh serves the fleet's published policy, the file is the fallback. */
  readonly fleet?: string;
  /** The fleet's name in Redis. Default `default`. */
  readonly fleetKey?: string;
  /** Operational log (reloads, ejections, breaker transitions). Default: silent. */
  readonly log?: Logger;
  /** Forwarding engine. Default `undici`. */
  readonly engine?: EngineKind;
  /** This process's place, overriding the policy's `locality`. */
  readonly locality?: Locality;
  /**
   * CLIENT spans through the application's OpenTelemetry API (children of its active context) and
   * `traceparent` upstream. Default true; no spans are made unless the application registered an SDK.
   */
  readonly tracing?: boolean;
  /** Write the sidecar's JSON access log line per call on stdout. Default false. */
  readonly accessLog?: boolean;
  /** Longest `close()` waits for calls in flight before cutting their connections, ms. Default 20 000. */
  readonly closeTimeoutMs?: number;
}

/** Runtime faults (SPEC §5), as the admin API's `/faults` adds them; each vanishes after its `ttl` (ms). */
export interface MeshFaults {
  /** Adds a fault; returns its id. Throws on an invalid fault. */
  add(fault: RuntimeFaultInput): string;
  remove(id: string): boolean;
  list(): RuntimeFault[];
}

/** What `explain` answers: the decision for a request, sending nothing. */
export type MeshExplanation = ExplainResult;
export interface ExplainInit {
  readonly method?: string;
  /** As `fetch` takes them: an object, `[name, value]` pairs or a `Headers`. */
  readonly headers?: ConstructorParameters<typeof Headers>[0];
}

export interface Mesh {
  /** WHATWG fetch through the mesh: routed by the URL's authority as the outbound listener routes Host. */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** An undici `Dispatcher`: `fetch(url, { dispatcher })`, `undici.request`, `setGlobalDispatcher`. */
  readonly dispatcher: Dispatcher;
  readonly faults: MeshFaults;
  /** The mesh's prom-client registry (SPEC §6 names), to merge with the application's. */
  readonly registry: Registry;
  /** Prometheus text exposition of `registry`. */
  metrics(): Promise<string>;
  /** The decision for a request to `url` on the live snapshot (health and ejections included). */
  explain(url: string | URL, init?: ExplainInit): MeshExplanation;
  /**
   * Re-reads the policy file now (a file policy), or applies `policy` (text or object) through the
   * same validate → build → swap path. An invalid policy keeps the last good one: see `errors`.
   */
  reload(policy?: string | object): Promise<ReloadResult>;
  /** Generation and content hash of the policy being served. */
  readonly generation: number;
  /** Stops taking calls, lets those in flight finish, then releases every socket and timer. */
  close(): Promise<void>;
}

export async function createMesh(options: MeshOptions): Promise<Mesh> {
  const log = options.log ?? pino({ level: 'silent' });
  const telemetry = await Telemetry.create({
    log, accessLog: { enabled: options.accessLog === true }, metrics: { processMetrics: false },
    ...(options.tracing === false ? { env: {} } : { tracing: appTracing() }),
  });
  const fleet = options.fleet === undefined ? undefined : await openFleet(options.fleet, options.fleetKey, log, telemetry);
  const plane = await DataPlane.create({
    policy: await policyInput(options.policy), log, engine: options.engine, watch: options.watch, telemetry, locality: options.locality, fleet,
  });
  try {
    await plane.startSources();
  } catch (err) {
    await plane.stopSources();
    plane.close();
    throw err;
  }
  plane.serving({});
  return new LibraryMesh(plane, telemetry, options);
}

async function openFleet(url: string, key: string | undefined, log: Logger, telemetry: Telemetry): Promise<FleetAttachment> {
  // The Redis client is loaded only with a fleet.
  const { openFleet: open, parseFleetUrl, checkFleetKey } = await import('../fleet/index.js');
  parseFleetUrl(url);
  const problem = checkFleetKey(key ?? 'default');
  if (problem) throw new Error(`pilotfish mesh: ${problem}`);
  return open({ url, key: key ?? 'default', log, registry: telemetry.metrics.registry });
}

class LibraryMesh implements Mesh {
  readonly dispatcher: MeshDispatcher;
  private inflight = 0;
  private idle: (() => void) | undefined;
  private closing = false;
  private closed: Promise<void> | undefined;
  private passthrough: Dispatcher | undefined;

  constructor(private readonly plane: DataPlane, private readonly telemetry: Telemetry, private readonly options: MeshOptions) {
    this.dispatcher = new MeshDispatcher({
      current: () => this.plane.snapshot,
      log: plane.options.log,
      observer: plane.observer,
      track: { begin: () => { this.inflight++; }, end: () => { if (--this.inflight === 0) this.idle?.(); } },
      closing: () => this.closing,
      passthrough: () => (this.passthrough ??= makeAgent()),
    });
  }

  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    // The runtime's fetch takes an undici dispatcher (its types are undici-types', a copy of undici's own).
    return fetch(input, { ...init, dispatcher: this.dispatcher } as unknown as RequestInit);
  }

  get faults(): MeshFaults { return this.plane.faults; }
  get registry(): Registry { return this.telemetry.metrics.registry; }
  get generation(): number { return this.snapshot.generation; }
  private get snapshot(): Snapshot { return this.plane.snapshot; }

  metrics(): Promise<string> { return this.registry.metrics(); }

  explain(url: string | URL, init: ExplainInit = {}): MeshExplanation {
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => { headers[k] = v; });
    return explainRequest(this.snapshot, { url: String(url), method: init.method ?? 'GET', headers, direction: 'outbound' });
  }

  reload(policy?: string | object): Promise<ReloadResult> {
    if (policy !== undefined) {
      const { text, name } = policyText(policy);
      return this.plane.offer({ origin: 'file', text, name });
    }
    return this.plane.reload('api');
  }

  close(): Promise<void> {
    this.closed ??= this.closeOnce();
    return this.closed;
  }

  private async closeOnce(): Promise<void> {
    this.closing = true;
    await this.plane.stopSources();
    if (this.inflight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        timer = setTimeout(resolve, this.options.closeTimeoutMs ?? 20_000);
      });
      clearTimeout(timer);
    }
    this.plane.close();
    await this.passthrough?.close();
    await this.telemetry.shutdown();
  }
}

/** A plain undici Agent for TLS passed through (allow-any): loaded only when the first https call comes. */
function makeAgent(): Dispatcher {
  const Agent = createRequire(import.meta.url)('undici/lib/dispatcher/agent.js') as typeof import('undici').Agent;
  return new Agent();
}
