/**
 * The types every layer shares: a request on its way upstream, the response on its way back, and the
 * per-request context. `Handler`/`Layer` are the whole composition model (STYLE.md): a route's stack
 * is a chain of layers, built once per snapshot, called once per request.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Direction } from '../config/index.js';
import type { ResponseFlag } from './errors.js';
import type { RequestTrace } from './observer.js';

export interface ProxyRequest {
  readonly raw: IncomingMessage;
  /** The client's response; the engine watches it so a client that leaves cancels the upstream call. */
  readonly res: ServerResponse;
  readonly method: string;
  /** Authority the request is for (Host or absolute-form URI), lower-cased, port kept. */
  host: string;
  /** Origin-form path with query, as sent upstream. */
  path: string;
  /** The headers sent upstream. This is `raw.headers`, already cleaned of hop-by-hop headers. */
  readonly headers: IncomingHttpHeaders;
  /** The buffered request body when a layer needed it (retries, body matching); else streamed. */
  body?: Buffer;
  /** A body too large to buffer: the bytes already read, then the rest of the stream (sent once). */
  bodyStream?: Readable;
  /** Aborts when the client leaves; made on first use (`clientSignal`), most requests never need it. */
  signal?: AbortSignal;
}

export interface ProxyResponse {
  status: number;
  headers: IncomingHttpHeaders | OutgoingHttpHeaders;
  /** A stream (an upstream response) or bytes (the sidecar's own answer). */
  body: Readable | Buffer;
}

export interface RequestContext {
  readonly direction: Direction;
  readonly requestId: string;
  /** `performance.now()` at arrival. */
  readonly start: number;
  readonly generation: number;
  /** Absolute `performance.now()` by which the upstream must have answered (route timeout). */
  deadline: number;
  readonly flags: ResponseFlag[];
  route: string;
  upstream: string;
  subset: string;
  endpoint: string;
  attempts: number;
  /** Sticky-session key (consistent-hash key for the endpoint pick), when the route is sticky. */
  hashKey: string | undefined;
  /** The request's trace (SERVER span); each try opens a CLIENT span from it. */
  trace: RequestTrace;
}

export type Handler = (req: ProxyRequest, ctx: RequestContext) => Promise<ProxyResponse>;
export type Layer = (next: Handler) => Handler;

/** Builds a handler from layers listed outermost first. */
export function compose(layers: readonly Layer[], inner: Handler): Handler {
  let h = inner;
  for (let i = layers.length - 1; i >= 0; i--) h = layers[i]!(h);
  return h;
}

export function addFlag(ctx: RequestContext, flag: ResponseFlag): void {
  if (!ctx.flags.includes(flag)) ctx.flags.push(flag);
}
