/**
 * The one implementation of the data plane's reporting seams (`RequestObserver`, `ProxyEvents`):
 * every request ends in a metrics update, its SERVER span's end and an access-log line; every event
 * of routing and resilience becomes a metric. Nothing outside this folder touches prom-client, the
 * OpenTelemetry SDK or the access-log stream.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { RequestContext } from '../core/context.js';
import type { AttemptOutcome, EdgeRejectReason, ListenerName, OverloadState, ProxyEvents, RetrySkipReason } from '../core/events.js';
import type { RequestArrival, RequestDone, RequestObserver, RequestTrace } from '../core/observer.js';
import { AccessLog, type AccessLogOptions } from './access-log.js';
import { Metrics, type MetricsOptions, type ReloadResult } from './metrics.js';
import { rpcAttributes } from '../core/grpc.js';
import { createTracing, type ServerSpan, type Tracing } from './tracing.js';

export interface TelemetryOptions {
  /** Operational log for tracing-exporter trouble. */
  readonly log?: Logger;
  /** Access log on stdout by default; `{ enabled: false }` turns it off (tests, benchmarks). */
  readonly accessLog?: AccessLogOptions;
  /** Environment for the `OTEL_*` variables. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Tracing made elsewhere (library mode: the application's tracer); `env` is then not read. */
  readonly tracing?: Tracing;
  /** Metrics options (library mode leaves the process metrics to the application). */
  readonly metrics?: MetricsOptions;
}

export class Telemetry implements RequestObserver, ProxyEvents {
  /** The names series were last pruned to. */
  private pruned: { readonly routes: readonly string[]; readonly upstreams: readonly string[] } | undefined;

  private constructor(readonly metrics: Metrics, readonly tracing: Tracing, readonly accessLog: AccessLog) {}

  static async create(options: TelemetryOptions = {}): Promise<Telemetry> {
    const tracing = options.tracing ?? await createTracing({ ...(options.log ? { log: options.log } : {}), ...(options.env ? { env: options.env } : {}) });
    return new Telemetry(new Metrics(options.metrics), tracing, new AccessLog(options.accessLog));
  }

  // RequestObserver
  get traces(): boolean {
    return this.tracing.enabled;
  }

  start(headers: IncomingHttpHeaders, arrival: RequestArrival): RequestTrace {
    return this.tracing.startServer(headers, arrival);
  }

  end(ctx: RequestContext, done: RequestDone): void {
    this.metrics.requestEnd(ctx, done.status, done.durationMs / 1000);
    if (done.grpcStatus !== undefined) this.metrics.grpcEnd(ctx, done.grpcStatus);
    // An unrecorded request (tracing off, or unsampled) gets no attribute object: its end ignores them.
    (ctx.trace as ServerSpan).end?.(done.status, ctx, done.grpcStatus === undefined || !ctx.trace.recording ? undefined : rpcAttributes(done.path, done.grpcStatus));
    this.accessLog.write(ctx, done, ctx.trace.traceId);
  }

  // ProxyEvents
  attempt(upstream: string, subset: string, outcome: AttemptOutcome): void { this.metrics.attempt(upstream, subset, outcome); }
  retry(route: string, upstream: string): void { this.metrics.retry(route, upstream); }
  retrySkipped(route: string, upstream: string, reason: RetrySkipReason): void { this.metrics.retrySkipped(route, upstream, reason); }
  faultInjected(route: string, type: 'delay' | 'abort'): void { this.metrics.faultInjected(route, type); }
  breakerState(upstream: string, subset: string, code: 0 | 1 | 2): void { this.metrics.breakerState(upstream, subset, code); }
  ejection(upstream: string): void { this.metrics.ejection(upstream); }
  endpointHealthy(upstream: string, endpoint: string, healthy: boolean): void { this.metrics.endpointHealthy(upstream, endpoint, healthy); }
  mirror(route: string, outcome: 'match' | 'status_mismatch' | 'body_mismatch' | 'error' | 'sent' | 'dropped'): void { this.metrics.mirror(route, outcome); }
  rateLimited(route: string): void { this.metrics.rateLimited(route); }
  connectionOverflow(listener: ListenerName): void { this.metrics.connectionOverflow(listener); }
  edgeRejected(listener: ListenerName, reason: EdgeRejectReason): void { this.metrics.edgeRejected(listener, reason); }
  overloadShed(listener: ListenerName): void { this.metrics.overloadShed(listener); }
  overload(state: OverloadState): void { this.metrics.overloadActive(state.shedding); }
  authzDenied(policy: string): void { this.metrics.authzDenied(policy); }

  /** After each reload attempt: the reload counter, and on success the generation and series pruning. */
  reloaded(result: ReloadResult, generation: number, routes: Iterable<string>, upstreams: Iterable<string>): void {
    this.metrics.configReload(result);
    if (result !== 'ok') return;
    this.metrics.generation(generation);
    // Series are pruned when the names they may carry changed (a flip that moves a weight keeps them all).
    const known = { routes: [...routes], upstreams: [...upstreams] };
    if (this.pruned && sameList(known.routes, this.pruned.routes) && sameList(known.upstreams, this.pruned.upstreams)) return;
    this.pruned = known;
    this.metrics.retainOnly(known);
  }

  /** On SIGTERM, after the drain: flush spans (bounded wait) and the access log. */
  async shutdown(): Promise<void> {
    await this.tracing.shutdown();
    await this.accessLog.close();
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
