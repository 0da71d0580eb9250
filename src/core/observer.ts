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
  /** Ends the try with the upstream's status or the error; `attrs` adds span attributes (a gRPC try's `rpc.*`). */
  end(result: number | Error, attrs?: Readonly<Record<string, string | number | boolean>>): void;
}

/** One try against one endpoint (or one mirrored call). */
export interface TryStart {
  readonly method: string;
  /** `host:port` of the endpoint tried. */
  readonly endpoint: string;
  /** Path sent upstream (after rewrites); a query string is dropped from spans. */
  readonly path: string;
  readonly upstream: string;
  readonly subset: string;
  /** 1 for the first try, 2 for the first retry, … */
  readonly attempt: number;
  /** A shadow copy (SPEC §5 mirror): its answer is discarded. */
  readonly mirror?: boolean;
}

export interface RequestTrace {
  /** '' when tracing is off. */
  readonly traceId: string;
  /**
   * False when no span of this request is recorded (tracing off, or the sampler dropped it):
   * `startClient` then ignores its description, and the caller passes `UNRECORDED_TRY` rather than
   * building one per try.
   */
  readonly recording: boolean;
  startClient(start: TryStart): TryTrace;
}

/** What the request looks like on arrival. */
export interface RequestArrival {
  readonly direction: string;
  readonly method: string;
  /** Authority (Host or absolute-form URI), port kept. */
  readonly host: string;
  /** Request path; a query string is dropped from spans and logs (it may carry secrets). */
  readonly path: string;
  /** The client's socket address and port. */
  readonly peerAddress?: string | undefined;
  readonly peerPort?: number | undefined;
  readonly requestId?: string | undefined;
}

/** What only the edge knows once the answer is done. */
export interface RequestDone {
  readonly method: string;
  /** Authority the request was for. */
  readonly host: string;
  /** Path as received; the access log drops the query string. */
  readonly path: string;
  /** Status sent to the client; 499 when it left first. */
  readonly status: number;
  /** Arrival to the end of the answer, ms. */
  readonly durationMs: number;
  /** Bytes read from the client connection for this request (its body). */
  readonly bytesIn: number;
  /** Bytes written to the client connection for this answer (status line, headers, body). */
  readonly bytesOut: number;
  /** `HTTP/2` for a request that came over HTTP/2; absent: HTTP/1.1. */
  readonly protocol?: 'HTTP/2' | undefined;
  /** A gRPC request's answer: the `grpc-status` sent (SPEC §11); absent for other requests. */
  readonly grpcStatus?: number | undefined;
}

export interface RequestObserver {
  /** False when `start` would only ever return `NO_TRACE` (tracing off): the edge then skips it. */
  readonly traces?: boolean;
  start(headers: IncomingHttpHeaders, arrival: RequestArrival): RequestTrace;
  end(ctx: RequestContext, done: RequestDone): void;
}

export const NO_TRY: TryTrace = Object.freeze({ inject: () => {}, end: () => {} });
export const NO_TRACE: RequestTrace = Object.freeze({ traceId: '', recording: false, startClient: () => NO_TRY });
/** The try description handed to a trace that records nothing (`recording` false). */
export const UNRECORDED_TRY: TryStart = Object.freeze({ method: '', endpoint: '', path: '', upstream: '', subset: '', attempt: 0 });
export const NO_OBSERVER: RequestObserver = Object.freeze({ traces: false, start: () => NO_TRACE, end: () => {} });
