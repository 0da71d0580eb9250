/**
 * A CLIENT span per upstream try (or mirrored call), on any OpenTelemetry tracer: the sidecar's own
 * SDK provider (a child of its SERVER span), or — in library mode — the application's tracer, as a
 * child of the application's active context. One implementation of the attributes and the W3C
 * context written into the upstream request.
 */
import { isIP } from 'node:net';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapSetter, trace, type Attributes, type Context, type Span, type TextMapPropagator, type Tracer } from '@opentelemetry/api';
import { splitHostPort } from './host-port.js';
import type { ClientSpan, ClientSpanStart, HeaderCarrier, SpanAttributeMap } from './tracing.js';

// Semantic conventions: a method outside this set is reported as `_OTHER` and the span named `HTTP`,
// so a client cannot mint span names (or attribute values) at will.
export const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);

/** The tracer spans are made with and the propagator that writes `traceparent`. */
export interface SpanMaker {
  readonly tracer: Tracer;
  readonly propagator: TextMapPropagator;
}

export function startClientSpan(owner: SpanMaker, parent: Context, start: ClientSpanStart): ClientSpan {
  const known = KNOWN_METHODS.has(start.method);
  const span = owner.tracer.startSpan(known ? start.method : 'HTTP', { kind: SpanKind.CLIENT }, parent);
  if (span.isRecording()) span.setAttributes(clientStartAttributes(start, known));
  return new OtelClientSpan(owner, span);
}

/** A CLIENT span's attributes at its start (semantic conventions, `pilotfish.*` for the try). */
export function clientStartAttributes(start: ClientSpanStart, known: boolean): Attributes {
  const [address, port] = splitHostPort(start.endpoint);
  const attrs: Attributes = {
    ...methodAttributes(start.method, known),
    'url.full': `http://${start.endpoint}${pathOnly(start.path)}`,
    'server.address': address,
    'pilotfish.upstream': start.upstream,
    'pilotfish.endpoint': start.endpoint,
    'pilotfish.attempt': start.attempt,
  };
  if (port !== undefined) attrs['server.port'] = port;
  if (isIP(address)) attrs['network.peer.address'] = address;
  if (start.subset) attrs['pilotfish.subset'] = start.subset;
  if (start.attempt > 1) attrs['http.request.resend_count'] = start.attempt - 1;
  if (start.mirror) attrs['pilotfish.mirror'] = true;
  return attrs;
}

/** What a try's end adds to its CLIENT span: attributes, and the error status (with its message) when it failed. */
export interface ClientSpanEnd {
  readonly attributes: Attributes;
  readonly error: boolean;
  readonly message: string | undefined;
}

export function clientEnd(result: number | Error, attrs: SpanAttributeMap | undefined): ClientSpanEnd {
  const out: Attributes = {};
  let error = false;
  let message: string | undefined;
  if (typeof result === 'number') {
    out['http.response.status_code'] = result;
    // For a client span any 4xx/5xx is an error (semantic conventions).
    if (result >= 400) {
      out['error.type'] = String(result);
      error = true;
    }
  } else {
    out['error.type'] = errorType(result);
    error = true;
    message = result.message;
  }
  if (attrs) {
    Object.assign(out, attrs);
    // RPC conventions: a gRPC client span is in error for every status but OK (0), whatever the HTTP status.
    const code = attrs['rpc.grpc.status_code'];
    if (typeof code === 'number' && code !== 0 && typeof result === 'number' && result < 400) {
      out['error.type'] = String(code);
      error = true;
    }
  }
  return { attributes: out, error, message };
}

class OtelClientSpan implements ClientSpan {
  private ended = false;

  constructor(private readonly owner: SpanMaker, private readonly span: Span) {}

  inject(headers: HeaderCarrier): void {
    this.owner.propagator.inject(trace.setSpan(ROOT_CONTEXT, this.span), headers, defaultTextMapSetter);
  }

  end(result: number | Error, attrs?: SpanAttributeMap): void {
    if (this.ended) return;
    this.ended = true;
    const span = this.span;
    if (span.isRecording()) {
      const done = clientEnd(result, attrs);
      span.setAttributes(done.attributes);
      if (done.error) span.setStatus(done.message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message: done.message });
    }
    span.end();
  }
}

export function methodAttributes(method: string, known: boolean): Attributes {
  return known ? { 'http.request.method': method } : { 'http.request.method': '_OTHER', 'http.request.method_original': method };
}

export function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

/** A `ProxyError` or errno code (`upstream_timeout`, `ECONNRESET`), else the error's class name. */
function errorType(err: Error): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code ? code : err.name || '_OTHER';
}
