/**
 * Tracing in library mode: there is no SERVER span — the call is the application's own — so each
 * try's CLIENT span is a child of the application's **active** OpenTelemetry context at the moment
 * of the call, made with the application's tracer (the global provider, whatever SDK it registered),
 * and its W3C `traceparent` goes upstream. With no SDK registered the API's no-op tracer makes no
 * spans, and a trace the application continues (an active span context) still propagates.
 */
import { context, trace, type Context, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { startClientSpan, type SpanMaker } from '../telemetry/client-span.js';
import type { ClientSpan, ClientSpanStart, ServerSpan, Tracing } from '../telemetry/index.js';

export function appTracing(tracer: Tracer = trace.getTracer('pilotfish')): Tracing {
  const owner: SpanMaker = { tracer, propagator: new W3CTraceContextPropagator() };
  return {
    enabled: true,
    startServer: () => new AppCall(owner, context.active()),
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

/** The application's context at the call: the parent of every try's span. */
class AppCall implements ServerSpan {
  readonly traceId: string;

  constructor(private readonly owner: SpanMaker, private readonly parent: Context) {
    this.traceId = trace.getSpanContext(parent)?.traceId ?? '';
  }

  startClient(start: ClientSpanStart): ClientSpan {
    return startClientSpan(this.owner, this.parent, start);
  }

  end(): void {}
}
