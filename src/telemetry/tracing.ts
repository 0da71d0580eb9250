/**
 * Tracing as the proxy sees it: a SERVER span per request that continues the caller's W3C trace, a
 * CLIENT span per upstream try (retries show as siblings) and per mirrored call, and the W3C context
 * injected into each upstream request. The sidecar's span recorder and OpenTelemetry's OTLP export
 * delegate sit behind this small interface (otel-tracing.ts), loaded only when tracing is on; off,
 * every call hits a shared frozen no-op object, so the request path pays one property call and
 * allocates nothing.
 *
 * Nothing instruments Node's `http` module: the proxy makes its spans itself, and an
 * auto-instrumentation would add a second SERVER and CLIENT span per hop.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { tracingConfigFromEnv, type Env } from './tracing-config.js';
import type { RequestArrival, TryStart } from '../core/observer.js';

/** What the request looks like on arrival (the edge's `RequestArrival`). */
export type ServerSpanStart = RequestArrival;

/** What the proxy decided; a `RequestContext` satisfies it. */
export interface ServerSpanEnd {
  readonly route: string;
  readonly upstream: string;
  readonly subset: string;
  readonly endpoint: string;
  readonly flags: readonly string[];
  readonly attempts: number;
}

/** One try against one endpoint, or one mirrored call (the pipeline's `TryStart`). */
export type ClientSpanStart = TryStart;

export type SpanAttributeMap = Readonly<Record<string, string | number | boolean>>;
/** A request's header object; `inject` writes `traceparent` (and `tracestate`) into it. */
export type HeaderCarrier = Record<string, unknown>;

export interface ClientSpan {
  /** Writes this try's `traceparent`/`tracestate` into the outgoing headers, replacing the caller's. */
  inject(headers: HeaderCarrier): void;
  /** Ends the try with the upstream's status, or the error that left it without one. Idempotent. */
  end(result: number | Error, attrs?: SpanAttributeMap): void;
}

export interface ServerSpan {
  /** 32 hex digits; '' when tracing is off. For the access log. */
  readonly traceId: string;
  /** False when nothing of this request is recorded: `startClient` ignores its description. */
  readonly recording: boolean;
  startClient(start: ClientSpanStart): ClientSpan;
  /** Ends the request's span with the status sent to the client. Idempotent. */
  end(status: number, info: ServerSpanEnd, attrs?: SpanAttributeMap): void;
}

export interface Tracing {
  readonly enabled: boolean;
  /** Starts the request's SERVER span, continuing `traceparent`/`tracestate` from `headers`. */
  startServer(headers: IncomingHttpHeaders, start: ServerSpanStart): ServerSpan;
  /** Exports every finished span now. */
  forceFlush(): Promise<void>;
  /**
   * Flushes and stops exporting; call once on SIGTERM after the drain. Resolves within
   * `shutdownTimeoutMs` even when the collector is unreachable, so a dead collector cannot eat the
   * pod's termination grace period; spans still unsent then are lost.
   */
  shutdown(): Promise<void>;
}

const NOOP_CLIENT: ClientSpan = Object.freeze({ inject() {}, end() {} });
const NOOP_SERVER: ServerSpan = Object.freeze({ traceId: '', recording: false, startClient: () => NOOP_CLIENT, end() {} });

/** Tracing off: the same frozen objects for every request. */
export const NOOP_TRACING: Tracing = Object.freeze({
  enabled: false,
  startServer: () => NOOP_SERVER,
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
});

/** The two calls of a pino logger this module uses. */
export interface TracingLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface TracingOptions {
  /** Where `OTEL_*` is read from. Default `process.env`. */
  readonly env?: Env;
  /** Startup decisions, ignored settings and export failures go here (operational log). */
  readonly log?: TracingLog;
  /** Longest wait for the final export in `shutdown()` and for `forceFlush()`, ms. Default 5000. */
  readonly shutdownTimeoutMs?: number;
}

/**
 * Builds tracing from the `OTEL_*` variables: `NOOP_TRACING` unless an OTLP endpoint is set, else
 * the sidecar's span recorder exporting in batches over OTLP/HTTP. Async because it is imported
 * lazily.
 */
export async function createTracing(options: TracingOptions = {}): Promise<Tracing> {
  const resolved = tracingConfigFromEnv(options.env ?? process.env);
  for (const warning of resolved.warnings) options.log?.warn({ warning }, 'tracing setting ignored');
  if (!resolved.config) {
    options.log?.info({ reason: resolved.reason }, 'tracing off');
    return NOOP_TRACING;
  }
  const { createOtelTracing } = await import('./otel-tracing.js');
  const tracing = await createOtelTracing(resolved.config, options.log, options.shutdownTimeoutMs ?? 5000);
  const { url, protocol, serviceName, sampler } = resolved.config;
  options.log?.info({ url, protocol, serviceName, sampler }, 'tracing on');
  return tracing;
}
