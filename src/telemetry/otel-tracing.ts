/**
 * The sidecar's own tracing: W3C trace context in and out, spans recorded as plain objects, exported
 * in batches by OpenTelemetry's OTLP/HTTP export delegate on a thread of its own (otlp-export.ts).
 * Context is passed explicitly — the proxy knows each span's parent — so no context manager or
 * AsyncLocalStorage is needed. Imported only when tracing is on.
 *
 * Why not the SDK's `TracerProvider` and `BatchSpanProcessor`: at 1% sampling its span path runs for
 * one request in a hundred, too rarely for V8 to keep it optimized, and it is long (a context per
 * span, attribute sanitizing per `setAttribute`, span processors, its own timers): a CPU profile of
 * the sidecar under load put ~470 µs of CPU in each sampled request's two spans, 4.6% of all its CPU
 * at 1%, where the same calls in a tight loop take ~30 µs (docs/benchmarks.md, "Tracing at 1%"). A
 * `RecordedSpan` is one object of fixed shape that is itself the `ReadableSpan` the exporter reads:
 * fields set as the request goes, nothing converted at export. The batching keeps the SDK's
 * defaults and meaning (`OTEL_BSP_*`: schedule delay, queue size, batch size, export timeout).
 *
 * Attributes follow the stable HTTP semantic conventions; `pilotfish.*` carries the proxy's decision.
 * The sampling decision comes first (head-sampling.ts): a request the sampler drops records nothing —
 * no span, context or attribute object, only its `traceparent` written for the next hop.
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  DiagLogLevel, SpanKind, SpanStatusCode, TraceFlags, diag,
  type Attributes, type HrTime, type SpanContext, type SpanStatus,
} from '@opentelemetry/api';
import { ExportResultCode, type ExportResult, type InstrumentationScope } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { HeadSampler, parseTraceparent, randomHex, RandomIds, UnsampledTrace } from './head-sampling.js';
import { splitHostPort } from './host-port.js';
import { createSpanExporter } from './otlp-export.js';
import { clientEnd, clientStartAttributes, KNOWN_METHODS, methodAttributes, pathOnly } from './client-span.js';
import type { BatchConfig, TracingConfig } from './tracing-config.js';
import type {
  ClientSpan, ClientSpanStart, HeaderCarrier, ServerSpan, ServerSpanEnd, ServerSpanStart, SpanAttributeMap, Tracing, TracingLog,
} from './tracing.js';

const SCOPE: InstrumentationScope = Object.freeze({ name: 'pilotfish' });

export async function createOtelTracing(config: TracingConfig, log: TracingLog | undefined, timeoutMs: number): Promise<Tracing> {
  if (log) forwardDiagnostics(log);
  const exporter = await createSpanExporter(config.url, config.protocol, config.exportThread, (message) => diag.warn(message));
  const resource = defaultResource().merge(resourceFromAttributes({ ...config.resourceAttributes, 'service.name': config.serviceName }));
  return new OtelTracing(new SpanBatcher(exporter, config.batch), resource, new HeadSampler(config.sampler), timeoutMs);
}

class OtelTracing implements Tracing {
  readonly enabled = true;
  private readonly random = new RandomIds();

  constructor(readonly batcher: SpanBatcher, readonly resource: Resource, private readonly head: HeadSampler, private readonly timeoutMs: number) {}

  startServer(headers: IncomingHttpHeaders, start: ServerSpanStart): ServerSpan {
    const remote = parseTraceparent(headers.traceparent);
    const traceId = remote?.traceId ?? this.random.traceId();
    if (!this.head.sampled(traceId, remote, remote === undefined ? this.random.fold : undefined)) return new UnsampledTrace(traceId);
    // Sampled: the SERVER span continues the caller's trace (and its tracestate), or roots a new one
    // on the id decided on.
    const state = remote === undefined ? undefined : traceState(headers.tracestate);
    const parent: SpanContext | undefined = remote === undefined ? undefined : { traceId, spanId: remote.spanId, traceFlags: remote.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: true };
    const known = KNOWN_METHODS.has(start.method);
    const name = known ? start.method : 'HTTP';
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
    return new RecordedServerSpan(this.batcher, new RecordedSpan(this.resource, name, SpanKind.SERVER, traceId, parent, attrs), state, name);
  }

  forceFlush(): Promise<void> {
    return withDeadline(this.batcher.forceFlush(), this.timeoutMs);
  }

  shutdown(): Promise<void> {
    // The exporter would retry a dead collector for up to its own timeout; the pod's grace period
    // matters more than the last batch.
    return withDeadline(this.batcher.shutdown().catch(() => {}), this.timeoutMs);
  }
}

/** The caller's `tracestate`, passed on as received (one header line, or its lines joined). */
function traceState(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const s = typeof value === 'string' ? value : value.join(',');
  return s === '' ? undefined : s;
}

/**
 * One recorded span, and the `ReadableSpan` the OTLP exporter serializes: every field set at its
 * start or its end, of the same shape for every span (so `parentSpanContext` is present, undefined
 * on a root, where `ReadableSpan` makes it optional).
 */
export class RecordedSpan implements Omit<ReadableSpan, 'parentSpanContext'> {
  readonly startTime: HrTime;
  endTime: HrTime = NOT_ENDED;
  duration: HrTime = NOT_ENDED;
  status: SpanStatus = UNSET;
  ended = false;
  readonly links = NONE as never[];
  readonly events = NONE as never[];
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly instrumentationScope = SCOPE;
  private readonly context: SpanContext;
  private readonly startMs: number;

  constructor(
    readonly resource: Resource,
    public name: string,
    readonly kind: SpanKind,
    traceId: string,
    readonly parentSpanContext: SpanContext | undefined,
    readonly attributes: Attributes,
  ) {
    this.context = { traceId, spanId: randomHex(2), traceFlags: TraceFlags.SAMPLED };
    this.startMs = performance.timeOrigin + performance.now();
    this.startTime = hrTime(this.startMs);
  }

  spanContext(): SpanContext {
    return this.context;
  }

  /** Ends the span now (once); false if it had already ended. */
  finish(): boolean {
    if (this.ended) return false;
    this.ended = true;
    const endMs = performance.timeOrigin + performance.now();
    this.endTime = hrTime(endMs);
    this.duration = hrTime(Math.max(0, endMs - this.startMs));
    return true;
  }
}

const NOT_ENDED: HrTime = Object.freeze([0, 0]) as unknown as HrTime;
const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });
const ERROR: SpanStatus = Object.freeze({ code: SpanStatusCode.ERROR });
const NONE: readonly never[] = Object.freeze([]);

/** Milliseconds (fractional) → `[seconds, nanoseconds]`. */
function hrTime(ms: number): HrTime {
  let seconds = Math.floor(ms / 1000);
  let nanos = Math.round((ms - seconds * 1000) * 1e6);
  if (nanos >= 1e9) { seconds++; nanos -= 1e9; }
  return [seconds, nanos];
}

class RecordedServerSpan implements ServerSpan {
  readonly traceId: string;
  readonly recording = true;

  constructor(private readonly batcher: SpanBatcher, private readonly span: RecordedSpan, private readonly state: string | undefined, private readonly name: string) {
    this.traceId = span.spanContext().traceId;
  }

  startClient(start: ClientSpanStart): ClientSpan {
    const known = KNOWN_METHODS.has(start.method);
    const parent = this.span.spanContext();
    const span = new RecordedSpan(this.span.resource, known ? start.method : 'HTTP', SpanKind.CLIENT, parent.traceId, parent, clientStartAttributes(start, known));
    return new RecordedClientSpan(this.batcher, span, this.state);
  }

  end(status: number, info: ServerSpanEnd, attrs?: SpanAttributeMap): void {
    const span = this.span;
    if (!span.finish()) return;
    const a = span.attributes;
    a['http.response.status_code'] = status;
    if (info.route) {
      a['pilotfish.route'] = info.route;
      span.name = `${this.name} ${info.route}`;
    }
    if (info.upstream) a['pilotfish.upstream'] = info.upstream;
    if (info.subset) a['pilotfish.subset'] = info.subset;
    if (info.endpoint) a['pilotfish.endpoint'] = info.endpoint;
    if (info.flags.length > 0) a['pilotfish.flags'] = info.flags.join(',');
    a['pilotfish.attempts'] = info.attempts;
    // A server span is in error only for 5xx: a 4xx is the client's mistake (semantic conventions).
    if (status >= 500) {
      a['error.type'] = String(status);
      span.status = ERROR;
    }
    if (attrs) {
      Object.assign(a, attrs);
      // RPC conventions: a gRPC server span is in error for the server's faults only.
      const code = attrs['rpc.grpc.status_code'];
      if (typeof code === 'number' && GRPC_SERVER_ERRORS.has(code) && status < 500) {
        a['error.type'] = String(code);
        span.status = ERROR;
      }
    }
    this.batcher.add(span);
  }
}

class RecordedClientSpan implements ClientSpan {
  constructor(private readonly batcher: SpanBatcher, private readonly span: RecordedSpan, private readonly state: string | undefined) {}

  inject(headers: HeaderCarrier): void {
    const c = this.span.spanContext();
    headers.traceparent = `00-${c.traceId}-${c.spanId}-01`;
    if (this.state !== undefined) headers.tracestate = this.state;
  }

  end(result: number | Error, attrs?: SpanAttributeMap): void {
    const span = this.span;
    if (!span.finish()) return;
    const done = clientEnd(result, attrs);
    Object.assign(span.attributes, done.attributes);
    if (done.error) span.status = done.message === undefined ? ERROR : { code: SpanStatusCode.ERROR, message: done.message };
    this.batcher.add(span);
  }
}

/** UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS (OpenTelemetry's gRPC conventions). */
const GRPC_SERVER_ERRORS: ReadonlySet<number> = new Set([2, 4, 12, 13, 14, 15]);

/**
 * Finished spans, exported in batches as the SDK's `BatchSpanProcessor` does with the same settings:
 * a batch goes as soon as `maxExportBatchSize` spans wait, else `scheduledDelayMillis` after the first
 * of them; beyond `maxQueueSize` waiting spans new ones are dropped (and counted in a warning); one
 * export at a time, each bounded by `exportTimeoutMillis`.
 */
export class SpanBatcher {
  private queue: RecordedSpan[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private dropped = 0;
  private stopped = false;
  private readonly delayMs: number;
  private readonly timeoutMs: number;
  private readonly maxQueue: number;
  private readonly batchSize: number;

  constructor(private readonly exporter: SpanExporter, o: BatchConfig = {}) {
    this.delayMs = o.scheduledDelayMillis ?? 5000;
    this.timeoutMs = o.exportTimeoutMillis ?? 30_000;
    this.maxQueue = o.maxQueueSize ?? 2048;
    // As the SDK: a batch larger than the queue is the queue.
    this.batchSize = Math.min(o.maxExportBatchSize ?? 512, this.maxQueue);
  }

  add(span: RecordedSpan): void {
    if (this.stopped) return;
    if (this.queue.length >= this.maxQueue) {
      if (this.dropped++ === 0) diag.warn('span queue full: spans are being dropped (OTEL_BSP_MAX_QUEUE_SIZE)');
      return;
    }
    this.queue.push(span);
    this.schedule();
  }

  /** A full batch goes now; fewer spans when the delay has passed since the first of them waited. */
  private schedule(): void {
    if (this.queue.length >= this.batchSize) void this.drain();
    else this.timer ??= setTimeout(() => { this.timer = undefined; void this.drain(); }, this.delayMs).unref();
  }

  /** Exports everything waiting now; resolves when it has gone (or failed). */
  async forceFlush(): Promise<void> {
    await this.drain();
    await this.exporter.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    await this.drain(); // clears the timer; nothing is queued or scheduled once stopped
    await this.exporter.shutdown();
  }

  /** One export loop at a time: it empties the queue, a batch per export. */
  private drain(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    // Spans queued after the loop's last look (before this `finally`) are scheduled here, not stranded.
    return (this.running ??= this.exportAll().finally(() => { this.running = undefined; if (this.queue.length > 0 && !this.stopped) this.schedule(); }));
  }

  private async exportAll(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.batchSize);
      const result = await this.exportOne(batch);
      if (result.code !== ExportResultCode.SUCCESS) diag.error('span export failed', result.error ?? new Error('span export failed'));
    }
    if (this.dropped > 0) {
      diag.warn(`${this.dropped} spans dropped: the span queue was full (OTEL_BSP_MAX_QUEUE_SIZE)`);
      this.dropped = 0;
    }
  }

  private exportOne(batch: RecordedSpan[]): Promise<ExportResult> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ code: ExportResultCode.FAILED, error: new Error(`span export timed out after ${this.timeoutMs}ms`) }), this.timeoutMs).unref();
      try {
        // A root's `parentSpanContext` is undefined rather than absent: the exporter reads it with `?.`.
        this.exporter.export(batch as ReadableSpan[], (result) => { clearTimeout(timer); resolve(result); });
      } catch (err) {
        clearTimeout(timer);
        resolve({ code: ExportResultCode.FAILED, error: err as Error });
      }
    });
  }
}

/** `p`, or nothing once `ms` have passed; the timer never holds the process open. */
function withDeadline(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms).unref(); });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** Export failures surface through OTel's global `diag` logger, silent unless one is set. */
function forwardDiagnostics(log: TracingLog): void {
  const warn = (message: string, ...args: unknown[]): void => log.warn({ otel: args.length ? [message, ...args.map(String)] : message }, 'opentelemetry');
  diag.setLogger({ error: warn, warn, info() {}, debug() {}, verbose() {} }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
}
