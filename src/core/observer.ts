/**
 * How the edge reports each request's life to telemetry without importing it: a trace handle made on
 * arrival (the SERVER span; a CLIENT span per try comes from it) and one call when the answer is done
 * (metrics, span end, access log). `NO_OBSERVER` costs nothing.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestContext } from './context.js';

export interface TryTrace {
  /** Writes this try's W3C `traceparent`/`tracestate` into the outgoing request headers. */
  inject(headers: Record<string, unknown>): void;
  end(result: number | Error): void;
}

export interface RequestTrace {
  /** '' when tracing is off. */
  readonly traceId: string;
  startClient(start: { method: string; endpoint: string; path: string; upstream: string; subset: string; attempt: number; mirror?: boolean }): TryTrace;
}

export interface RequestArrival {
  readonly direction: string;
  readonly method: string;
  readonly host: string;
  readonly path: string;
  readonly peerAddress?: string | undefined;
  readonly peerPort?: number | undefined;
  readonly requestId?: string | undefined;
}

export interface RequestDone {
  readonly method: string;
  readonly host: string;
  readonly path: string;
  /** Status sent to the client; 499 when it left first. */
  readonly status: number;
  readonly durationMs: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

export interface RequestObserver {
  start(headers: IncomingHttpHeaders, arrival: RequestArrival): RequestTrace;
  end(ctx: RequestContext, done: RequestDone): void;
}

const NO_TRY: TryTrace = Object.freeze({ inject: () => {}, end: () => {} });
export const NO_TRACE: RequestTrace = Object.freeze({ traceId: '', startClient: () => NO_TRY });
export const NO_OBSERVER: RequestObserver = Object.freeze({ start: () => NO_TRACE, end: () => {} });
