/**
 * The OpenTelemetry SDK (3.x) behind `Tracing`: a private `TracerProvider` (never registered as the
 * global one, so several instances can live in one test process and no library picks it up
 * implicitly), a `BatchSpanProcessor` over the OTLP/HTTP exporter of the configured protocol, and the
 * W3C trace-context propagator. Context is passed explicitly — the proxy knows each span's parent —
 * so no context manager or AsyncLocalStorage is needed. Imported only when tracing is on.
 *
 * Attributes follow the stable HTTP semantic conventions; `pilotfish.*` carries the proxy's decision.
 * The sampling decision comes first (head-sampling.ts): a request the sampler drops never reaches the
 * SDK — no span, context or attribute object, only its `traceparent` written for the next hop.
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  DiagLogLevel, ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, diag, trace,
  type Attributes, type Context, type Span, type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler, BatchSpanProcessor, TracerProvider, type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { HeadSampler, parseTraceparent, RandomIds, TraceIds, UnsampledTrace } from './head-sampling.js';
import { splitHostPort } from './host-port.js';
import { KNOWN_METHODS, methodAttributes, pathOnly, startClientSpan } from './client-span.js';
import type { TracingConfig } from './tracing-config.js';
import type {
  ClientSpan, ClientSpanStart, ServerSpan, ServerSpanEnd, ServerSpanStart, SpanAttributeMap, Tracing, TracingLog,
} from './tracing.js';

const TRACER_NAME = 'pilotfish';

export async function createOtelTracing(config: TracingConfig, log: TracingLog | undefined, timeoutMs: number): Promise<Tracing> {
  // Load only the exporter in use: the protobuf one pulls in protobufjs.
  const exporter: SpanExporter = config.protocol === 'http/json'
    ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter({ url: config.url })
    : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter({ url: config.url });
  if (log) forwardDiagnostics(log);
  const ids = new TraceIds();
  const provider = new TracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ ...config.resourceAttributes, 'service.name': config.serviceName })),
    // The head sampler has decided before any span is started, so the SDK's sampler has nothing left
    // to decide: a SERVER span is started only for a sampled request, and its CLIENT spans follow it.
    // (A ParentBased/TraceIdRatio sampler here would re-parse the parent and re-check the ratio per span.)
    sampler: new AlwaysOnSampler(),
    idGenerator: ids,
    spanProcessors: [new BatchSpanProcessor({ exporter, ...config.batch })],
  });
  return new OtelTracing(provider, new HeadSampler(config.sampler), ids, timeoutMs);
}

class OtelTracing implements Tracing {
  readonly enabled = true;
  readonly tracer: Tracer;
  readonly propagator = new W3CTraceContextPropagator();
  private readonly random = new RandomIds();

  constructor(private readonly provider: TracerProvider, private readonly head: HeadSampler, private readonly ids: TraceIds, private readonly timeoutMs: number) {
    this.tracer = provider.getTracer(TRACER_NAME);
  }

  startServer(headers: IncomingHttpHeaders, start: ServerSpanStart): ServerSpan {
    const remote = parseTraceparent(headers.traceparent);
    const traceId = remote?.traceId ?? this.random.traceId();
    if (!this.head.sampled(traceId, remote, remote === undefined ? this.random.fold : undefined)) return new UnsampledTrace(traceId);
    // Sampled: the SDK's span continues the caller's trace, or a new root's on the id decided on.
    if (remote === undefined) this.ids.next = traceId;
    const parent = this.propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    const known = KNOWN_METHODS.has(start.method);
    const span = this.tracer.startSpan(known ? start.method : 'HTTP', { kind: SpanKind.SERVER }, parent);
    this.ids.next = undefined;
    if (span.isRecording()) {
      const [address, port] = splitHostPort(start.host);
      const attrs: Attributes = {
        ...methodAttributes(start.method, known),
        'url.scheme': 'http',
        'url.path': pathOnly(start.path),
        'server.address': address,
        'pilotfish.direction': start.direction,
      };
      if (port !== undefined) attrs['server.port'] = port;
      if (start.peerAddress) attrs['client.address'] = attrs['network.peer.address'] = start.peerAddress;
      if (start.peerPort !== undefined) attrs['network.peer.port'] = start.peerPort;
      const agent = headers['user-agent'];
      if (agent) attrs['user_agent.original'] = agent;
      if (start.requestId) attrs['pilotfish.request_id'] = start.requestId;
      span.setAttributes(attrs);
    }
    return new OtelServerSpan(this, span, trace.setSpan(parent, span), known ? start.method : 'HTTP');
  }

  forceFlush(): Promise<void> {
    return this.provider.forceFlush({ timeoutMillis: this.timeoutMs });
  }

  shutdown(): Promise<void> {
    // The exporter would retry a dead collector for up to its own timeout; the pod's grace period
    // matters more than the last batch. The timer is unref'd so it never holds the process open.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, this.timeoutMs).unref(); });
    return Promise.race([this.provider.shutdown().catch(() => {}), deadline]).finally(() => clearTimeout(timer));
  }
}

class OtelServerSpan implements ServerSpan {
  readonly traceId: string;
  readonly recording = true;
  private ended = false;

  constructor(private readonly owner: OtelTracing, private readonly span: Span, private readonly context: Context, private readonly name: string) {
    this.traceId = span.spanContext().traceId;
  }

  startClient(start: ClientSpanStart): ClientSpan {
    return startClientSpan(this.owner, this.context, start);
  }

  end(status: number, info: ServerSpanEnd, attrs?: SpanAttributeMap): void {
    if (this.ended) return;
    this.ended = true;
    const span = this.span;
    if (span.isRecording()) {
      span.setAttribute('http.response.status_code', status);
      if (info.route) {
        span.setAttribute('pilotfish.route', info.route);
        span.updateName(`${this.name} ${info.route}`);
      }
      if (info.upstream) span.setAttribute('pilotfish.upstream', info.upstream);
      if (info.subset) span.setAttribute('pilotfish.subset', info.subset);
      if (info.endpoint) span.setAttribute('pilotfish.endpoint', info.endpoint);
      if (info.flags.length > 0) span.setAttribute('pilotfish.flags', info.flags.join(','));
      span.setAttribute('pilotfish.attempts', info.attempts);
      // A server span is in error only for 5xx: a 4xx is the client's mistake (semantic conventions).
      if (status >= 500) {
        span.setAttribute('error.type', String(status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      if (attrs) {
        span.setAttributes(attrs);
        // RPC conventions: a gRPC server span is in error for the server's faults only.
        const code = attrs['rpc.grpc.status_code'];
        if (typeof code === 'number' && GRPC_SERVER_ERRORS.has(code) && status < 500) {
          span.setAttribute('error.type', String(code));
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
      }
    }
    span.end();
  }
}

/** UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS (OpenTelemetry's gRPC conventions). */
const GRPC_SERVER_ERRORS: ReadonlySet<number> = new Set([2, 4, 12, 13, 14, 15]);

/** Export failures surface through OTel's global `diag` logger, silent unless one is set. */
function forwardDiagnostics(log: TracingLog): void {
  const warn = (message: string, ...args: unknown[]): void => log.warn({ otel: args.length ? [message, ...args.map(String)] : message }, 'opentelemetry');
  diag.setLogger({ error: warn, warn, info() {}, debug() {}, verbose() {} }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
}
