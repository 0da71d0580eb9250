/**
 * The sidecar's Prometheus metrics (SPEC §6), one `Registry` per instance so tests can run several.
 * The pipeline and the resilience event handlers call the typed methods below; none of them hashes a
 * label set or allocates once its series exists (label-tree.ts explains how). Labels carry only names
 * from the policy (route, upstream, subset, endpoint address) and small fixed vocabularies — never a
 * path, query, header or user id — and `retainOnly` drops the series of names a reload removed.
 */
import type { Gauge as GaugeT } from 'prom-client';
import { Gauge, Registry, collectProcessMetrics } from './prom.js';
import { CounterCell, GaugeCell } from './cells.js';
import { LabelTree, type Labels } from './label-tree.js';
import { CellHistogram, cellCounter, cellGauge } from './prom-bridge.js';
import { RequestSeries } from './request-series.js';
import { GrpcStatus } from '../core/grpc.js';

/**
 * Upper bounds of `pilotfish_request_duration_seconds`, in seconds: from half a millisecond (a local
 * answer such as a fault abort or a circuit-open rejection) to a minute (beyond the 15 s default route
 * timeout), roughly ×2–2.5 apart so p50/p95/p99 interpolate well across a proxy's range.
 */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60,
]);

export interface MetricsOptions {
  /** Upper bounds of `pilotfish_request_duration_seconds`, seconds, ascending. Default `DURATION_BUCKETS`. */
  readonly durationBuckets?: readonly number[];
  /**
   * Also collect Node.js process metrics (CPU, memory, event-loop lag, handles). Default true;
   * `'later'` registers none until `collectProcessMetrics()` is called (the sidecar calls it once it
   * is listening: their eleven prom-client modules are ~6% of its start, docs/benchmarks.md).
   */
  readonly processMetrics?: boolean | 'later';
}

/** The request fields the metrics need; a `RequestContext` satisfies it. */
export interface RequestLabels {
  readonly direction: string;
  readonly route: string;
  readonly upstream: string;
  /** '' when the destination names no subset. */
  readonly subset: string;
  readonly flags: readonly string[];
}

/** How one upstream try ended: the response status, or why there was none (resilience's `Outcome`). */
export type AttemptOutcome = number | 'connect-failure' | 'reset' | 'timeout' | `grpc-${string}`;
export type FaultType = 'delay' | 'abort';
/** `pilotfish_retries_skipped_total{reason}` (resilience's `SkipReason`). */
export type RetrySkipReason = 'budget' | 'deadline' | 'body-too-large' | 'non-idempotent';
/** SPEC §5 compare outcomes; `sent` counts a mirrored request answered while `compare` is off. */
export type MirrorOutcome = 'match' | 'status_mismatch' | 'body_mismatch' | 'error' | 'sent' | 'dropped';
export type ReloadResult = 'ok' | 'error' | 'unchanged';
/** `pilotfish_circuit_breaker_state`: 0 closed, 1 half-open, 2 open (resilience's `breakerStateCode`). */
export type BreakerStateCode = 0 | 1 | 2;
/** Requests waiting for a connection-pool slot, per upstream; read at scrape time. */
export type PendingSource = () => Iterable<readonly [upstream: string, pending: number]>;

/** The names a snapshot knows; the built-in ones (`app`, `passthrough`, `inbound|app`, …) included. */
export interface KnownNames {
  readonly routes: Iterable<string>;
  readonly upstreams: Iterable<string>;
}

// Status classes for attempt outcomes: bounded, and what an operator alerts on per endpoint pool.
const STATUS_CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;
const GRPC_CODE_NAMES = Object.keys(GrpcStatus);
/** A gRPC status as its name; past the 17 codes, `UNKNOWN` (bounded labels). */
const grpcCodeName = (code: number): string => GRPC_CODE_NAMES[code] ?? 'UNKNOWN';
const statusClass = (status: number): string => STATUS_CLASSES[status >= 100 && status < 600 ? (status / 100) | 0 : 0];

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: LabelTree<RequestSeries>;
  private readonly attempts = new LabelTree(['upstream', 'subset', 'outcome'], (l) => new CounterCell(l));
  private readonly retries = new LabelTree(['route', 'upstream'], (l) => new CounterCell(l));
  private readonly retriesSkipped = new LabelTree(['route', 'upstream', 'reason'], (l) => new CounterCell(l));
  private readonly breakers = new LabelTree(['upstream', 'subset'], (l) => new GaugeCell(l));
  private readonly ejections = new LabelTree(['upstream'], (l) => new CounterCell(l));
  private readonly endpoints = new LabelTree(['upstream', 'endpoint'], (l) => new GaugeCell(l));
  private readonly faults = new LabelTree(['route', 'type'], (l) => new CounterCell(l));
  private readonly mirrors = new LabelTree(['route', 'outcome'], (l) => new CounterCell(l));
  private readonly reloads = new LabelTree(['result'], (l) => new CounterCell(l));
  private readonly limited = new LabelTree(['route'], (l) => new CounterCell(l));
  private readonly overflows = new LabelTree(['listener'], (l) => new CounterCell(l));
  private readonly rejected = new LabelTree(['listener', 'reason'], (l) => new CounterCell(l));
  private readonly shed = new LabelTree(['listener'], (l) => new CounterCell(l));
  private readonly overloadGauge: GaugeT;
  private readonly denied = new LabelTree(['policy'], (l) => new CounterCell(l));
  private readonly handshakeErrors = new LabelTree(['listener', 'reason'], (l) => new CounterCell(l));
  private readonly certReloads = new LabelTree(['result'], (l) => new CounterCell(l));
  /** Registered on the first certificate load: a sidecar without an identity has no expiry to show. */
  private certExpiry: GaugeT | undefined;
  private readonly grpc = new LabelTree(['direction', 'route', 'upstream', 'grpc_code'], (l) => new CounterCell(l));
  private readonly generationGauge: GaugeT;
  private pending: PendingSource = () => [];
  private memory: () => number = () => 0;
  private processCollected = false;

  constructor(options: MetricsOptions = {}) {
    const registry = this.registry;
    const buckets = options.durationBuckets ?? DURATION_BUCKETS;
    const requests = new LabelTree(['direction', 'route', 'upstream', 'subset'], (l) => new RequestSeries(l, buckets));
    this.requests = requests;
    const each = <S extends { readonly labels: Labels }>(tree: LabelTree<S>) => (): Iterable<S> => tree.values();

    cellCounter({
      registry, name: 'pilotfish_requests_total', help: 'Requests answered, by route, destination, status code and response flags.',
      labelNames: ['direction', 'route', 'upstream', 'subset', 'code', 'flags'],
      cells: function* () { for (const s of requests.values()) yield* s.counters(); },
    });
    new CellHistogram({
      registry, name: 'pilotfish_request_duration_seconds', help: 'Time from request arrival to the end of the answer, seconds.',
      labelNames: ['direction', 'route', 'upstream', 'subset'],
      cells: function* () { for (const s of requests.values()) yield s.duration; },
    }, buckets);
    cellCounter({ registry, name: 'pilotfish_upstream_attempts_total', help: 'Upstream tries by outcome (status class, connect-failure, reset, timeout).', labelNames: this.attempts.labelNames, cells: each(this.attempts) });
    cellCounter({ registry, name: 'pilotfish_retries_total', help: 'Retries issued (tries after the first).', labelNames: this.retries.labelNames, cells: each(this.retries) });
    // Not in SPEC §6, but a retry that could not happen must never be silent (issues 4 and 13).
    cellCounter({
      registry, name: 'pilotfish_retries_skipped_total', labelNames: this.retriesSkipped.labelNames, cells: each(this.retriesSkipped),
      help: 'Retriable failures not retried although tries were left, by reason: budget, deadline, body-too-large (streamed, over the 1 MiB replay buffer), non-idempotent.',
    });
    cellGauge({ registry, name: 'pilotfish_circuit_breaker_state', help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open.', labelNames: this.breakers.labelNames, cells: each(this.breakers) });
    cellCounter({ registry, name: 'pilotfish_outlier_ejections_total', help: 'Endpoints ejected by outlier detection.', labelNames: this.ejections.labelNames, cells: each(this.ejections) });
    cellGauge({ registry, name: 'pilotfish_endpoint_healthy', help: 'Active health check verdict per endpoint: 1 healthy, 0 unhealthy.', labelNames: this.endpoints.labelNames, cells: each(this.endpoints) });
    cellCounter({ registry, name: 'pilotfish_faults_injected_total', help: 'Faults injected, by type (delay, abort).', labelNames: this.faults.labelNames, cells: each(this.faults) });
    cellCounter({ registry, name: 'pilotfish_mirror_requests_total', help: 'Mirrored requests by comparison outcome.', labelNames: this.mirrors.labelNames, cells: each(this.mirrors) });
    cellCounter({ registry, name: 'pilotfish_rate_limited_total', help: 'Requests refused by the route\'s rate limit (429, flag RL).', labelNames: this.limited.labelNames, cells: each(this.limited) });
    cellCounter({ registry, name: 'pilotfish_grpc_requests_total', help: 'gRPC requests answered, by gRPC status (the answer\'s grpc-status).', labelNames: this.grpc.labelNames, cells: each(this.grpc) });
    cellCounter({ registry, name: 'pilotfish_config_reloads_total', help: 'Policy reload attempts by result.', labelNames: this.reloads.labelNames, cells: each(this.reloads) });
    cellCounter({ registry, name: 'pilotfish_authz_denied_total', help: 'Inbound requests refused by authorization (403, flag AD), by the deciding rule.', labelNames: this.denied.labelNames, cells: each(this.denied) });
    cellCounter({ registry, name: 'pilotfish_tls_handshake_errors_total', help: 'Downstream TLS connections refused, by listener and reason.', labelNames: this.handshakeErrors.labelNames, cells: each(this.handshakeErrors) });
    const pending = (): Iterable<readonly [string, number]> => this.pending();
    new Gauge({
      name: 'pilotfish_pending_requests', help: 'Requests queued for a connection-pool slot.', labelNames: ['upstream'], registers: [registry],
      collect() {
        this.reset();
        for (const [upstream, n] of pending()) this.set({ upstream }, n);
      },
    });
    this.generationGauge = new Gauge({ name: 'pilotfish_config_generation', help: 'Generation of the policy snapshot serving requests.', registers: [registry] });
    // Edge limits and overload (SPEC §5 "Limits and overload"; Envoy's downstream_cx_overflow,
    // downstream_rq_4xx and overload.*.active): not in SPEC §6, named in its style.
    cellCounter({ registry, name: 'pilotfish_downstream_connections_overflow_total', help: 'Downstream connections closed on arrival because the listener had maxConnections open.', labelNames: this.overflows.labelNames, cells: each(this.overflows) });
    cellCounter({ registry, name: 'pilotfish_downstream_rejected_total', help: 'Requests the edge answered itself before routing: header-too-large (431), headers-timeout (408), malformed (400).', labelNames: this.rejected.labelNames, cells: each(this.rejected) });
    cellCounter({ registry, name: 'pilotfish_overload_shed_total', help: 'New requests shed with 503 OM under memory pressure.', labelNames: this.shed.labelNames, cells: each(this.shed) });
    this.overloadGauge = new Gauge({ name: 'pilotfish_overload_active', help: 'Load shedding under memory pressure: 1 while new requests are shed, else 0.', registers: [registry] });
    const memory = (): number => this.memory();
    new Gauge({
      name: 'pilotfish_overload_memory_percent', help: 'Memory in use (V8 heap + external buffers) as a percentage of the V8 heap limit, as the overload monitor last sampled it.', registers: [registry],
      collect() { this.set(memory()); },
    });
    for (const listener of ['outbound', 'inbound']) { this.overflows.get(listener); this.shed.get(listener); }
    // Present from the first scrape, so `increase()` sees the first reload of each kind.
    for (const result of ['ok', 'error', 'unchanged'] as const) this.reloads.get(result);
    if ((options.processMetrics ?? true) === true) this.collectProcessMetrics();
  }

  /** Registers Node's process metrics (once; a second call does nothing). */
  collectProcessMetrics(): void {
    if (this.processCollected) return;
    this.processCollected = true;
    collectProcessMetrics(this.registry);
  }

  /** Records a finished request: one count by status and flags, one duration observation. */
  requestEnd(r: RequestLabels, status: number, durationSeconds: number): void {
    this.requests.get(r.direction, r.route, r.upstream, r.subset).record(status, r.flags, durationSeconds);
  }

  /** The cached series of one destination; `requestEnd` uses it, tests and benchmarks inspect it. */
  requestSeries(direction: string, route: string, upstream: string, subset: string): RequestSeries {
    return this.requests.get(direction, route, upstream, subset);
  }

  /** A gRPC request's answer (SPEC §11): its `grpc-status` as a name (`OK`, `UNAVAILABLE`, …). */
  grpcEnd(r: RequestLabels, grpcStatus: number): void {
    this.grpc.get(r.direction, r.route, r.upstream, grpcCodeName(grpcStatus)).value++;
  }

  attempt(upstream: string, subset: string, outcome: AttemptOutcome): void {
    this.attempts.get(upstream, subset, typeof outcome === 'number' ? statusClass(outcome) : outcome).value++;
  }

  retry(route: string, upstream: string): void {
    this.retries.get(route, upstream).value++;
  }

  retrySkipped(route: string, upstream: string, reason: RetrySkipReason): void {
    this.retriesSkipped.get(route, upstream, reason).value++;
  }

  faultInjected(route: string, type: FaultType): void {
    this.faults.get(route, type).value++;
  }

  mirror(route: string, outcome: MirrorOutcome): void {
    this.mirrors.get(route, outcome).value++;
  }

  rateLimited(route: string): void {
    this.limited.get(route).value++;
  }

  authzDenied(policy: string): void {
    this.denied.get(policy).value++;
  }

  tlsHandshakeError(listener: string, reason: string): void {
    this.handshakeErrors.get(listener, reason).value++;
  }

  /** A workload certificate load (start, rotation, refused rotation): the serving certificate's expiry, s since the epoch. */
  certificate(result: 'ok' | 'error' | 'unchanged', notAfterSeconds: number): void {
    if (this.certExpiry === undefined) {
      const registry = this.registry;
      this.certExpiry = new Gauge({ name: 'pilotfish_cert_expiry_timestamp_seconds', help: 'When the workload certificate in use expires (Unix time, seconds).', registers: [registry] });
      cellCounter({ registry, name: 'pilotfish_cert_reloads_total', help: 'Workload certificate loads by result (error: refused, the previous one kept).', labelNames: this.certReloads.labelNames, cells: () => this.certReloads.values() });
      for (const r of ['ok', 'error', 'unchanged'] as const) this.certReloads.get(r);
    }
    this.certExpiry.set(notAfterSeconds);
    this.certReloads.get(result).value++;
  }

  breakerState(upstream: string, subset: string, code: BreakerStateCode): void {
    this.breakers.get(upstream, subset).value = code;
  }

  ejection(upstream: string): void {
    this.ejections.get(upstream).value++;
  }

  endpointHealthy(upstream: string, endpoint: string, healthy: boolean): void {
    this.endpoints.get(upstream, endpoint).value = healthy ? 1 : 0;
  }

  /** Drops an endpoint's health series when it leaves its upstream (DNS refresh, policy edit). */
  endpointRemoved(upstream: string, endpoint: string): void {
    this.endpoints.prune((l) => l.upstream !== upstream || l.endpoint !== endpoint);
  }

  /** Where `pilotfish_pending_requests` reads from; called once by the composition root. */
  pendingRequests(source: PendingSource): void {
    this.pending = source;
  }

  connectionOverflow(listener: string): void {
    this.overflows.get(listener).value++;
  }

  edgeRejected(listener: string, reason: string): void {
    this.rejected.get(listener, reason).value++;
  }

  overloadShed(listener: string): void {
    this.shed.get(listener).value++;
  }

  /** Where `pilotfish_overload_memory_percent` reads from; called once by the composition root. */
  memoryPercent(source: () => number): void {
    this.memory = source;
  }

  overloadActive(active: boolean): void {
    this.overloadGauge.set(active ? 1 : 0);
  }

  configReload(result: ReloadResult): void {
    this.reloads.get(result).value++;
  }

  generation(n: number): void {
    this.generationGauge.set(n);
  }

  /**
   * After a reload: removes every series of a route or upstream the new snapshot no longer has, so
   * dashboards stop showing them and memory stays bounded. '' (no route / no upstream yet) is always
   * kept. Returns how many label groups were removed.
   */
  retainOnly(known: KnownNames): number {
    const routes = new Set(known.routes).add('');
    const upstreams = new Set(known.upstreams).add('');
    const route = (l: Labels): boolean => routes.has(l.route!);
    const upstream = (l: Labels): boolean => upstreams.has(l.upstream!);
    return this.requests.prune((l) => route(l) && upstream(l))
      + this.attempts.prune(upstream)
      + this.retries.prune((l) => route(l) && upstream(l))
      + this.retriesSkipped.prune((l) => route(l) && upstream(l))
      + this.breakers.prune(upstream)
      + this.ejections.prune(upstream)
      + this.endpoints.prune(upstream)
      + this.faults.prune(route)
      + this.mirrors.prune(route)
      + this.limited.prune(route)
      + this.grpc.prune((l) => route(l) && upstream(l));
  }
}
