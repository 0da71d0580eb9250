/**
 * Tracing in library mode: there is no SERVER span — the call is the application's own — so each
 * try's CLIENT span is a child of the application's **active** OpenTelemetry context at the moment
 * of the call, made with the application's tracer (the global provider, whatever SDK it registered),
 * and its W3C `traceparent` goes upstream. With no SDK registered the API's no-op tracer makes no
 * spans, and a trace the application continues (an active span context) still propagates.
 */
import { context, ProxyTracerProvider, trace, type Context, type TracerProvider } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { NO_TRACE } from '../core/observer.js';
import { startClientSpan, type SpanMaker } from '../telemetry/client-span.js';
import type { ClientSpan, ClientSpanStart, ServerSpan, Tracing } from '../telemetry/index.js';

/**
 * The pipeline's own "no trace" (attempt.ts skips a try's span and `inject` for it). It has no `end`:
 * the observer ends a request's span with `end?.()`.
 */
const NO_SPAN = NO_TRACE as unknown as ServerSpan;

/** The API's own no-op provider: what the global provider delegates to until an SDK registers one. */
const NOOP_PROVIDER: TracerProvider = new ProxyTracerProvider().getDelegate();

export function appTracing(): Tracing {
  const owner: SpanMaker = { tracer: trace.getTracer('pilotfish'), propagator: new W3CTraceContextPropagator() };
  return {
    enabled: true,
    startServer: () => {
      const parent = context.active();
      // No SDK and no trace to continue: every span would be the no-op tracer's invalid one and
      // `inject` would write nothing, so the call skips the span work (as with tracing off).
      // Asked per call: an SDK the application registers later is used from its next call on.
      if (trace.getSpanContext(parent) === undefined && !sdkRegistered()) return NO_SPAN;
      return new AppCall(owner, parent);
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

function sdkRegistered(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_PROVIDER;
}

/** The application's context at the call: the parent of every try's span. */
class AppCall implements ServerSpan {
  readonly traceId: string;
  /** The application's tracer decides per span whether it records: always describe the try. */
  readonly recording = true;

  constructor(private readonly owner: SpanMaker, private readonly parent: Context) {
    this.traceId = trace.getSpanContext(parent)?.traceId ?? '';
  }

  startClient(start: ClientSpanStart): ClientSpan {
    return startClientSpan(this.owner, this.parent, start);
  }

  end(): void {}
}
