/**
 * The types every layer shares: a request on its way upstream, the response on its way back, and the
 * per-request context. `Handler`/`Layer` are the whole composition model (STYLE.md): a route's stack
 * is a chain of layers, built once per snapshot, called once per request.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import type { Direction } from '../config/index.js';
import type { ResponseFlag } from './errors.js';
import type { RequestTrace } from './observer.js';

/**
 * The other end of the downstream connection. A `net.Socket` satisfies it as it is, so the HTTP/1
 * edge allocates nothing for it; an edge without a socket (library mode) passes `NO_PEER`.
 */
export interface Peer {
  /** Source IP (sticky `sourceIp` keys, `x-forwarded-for`). */
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  /**
   * The peer's verified workload identity, on a mutual-TLS connection (the TLS edge sets it on the
   * socket once per connection, identity/tls-terminator.ts); absent for plaintext peers.
   */
  readonly peerIdentity?: PeerIdentity | undefined;
}

/** Set only by the sidecar that terminated the peer's mutual TLS (SPEC §12): never passed on from a client. */
export const XFCC = 'x-forwarded-client-cert';

/** Who is on the other end of a mutual-TLS connection (SPEC §12). */
export interface PeerIdentity {
  /** The peer's SPIFFE ID; its certificate chains to the mesh CA and the ID is in our trust domain. */
  readonly spiffeId: string;
  /** From a `/ns/<namespace>/sa/<sa>` ID, for `authorization.from.namespaces`. */
  readonly namespace: string | undefined;
  /** The connection's `x-forwarded-client-cert` value (Envoy's format), made once per connection. */
  readonly xfcc: string;
}

/** No socket behind the request (a mirrored copy, library mode). */
export const NO_PEER: Peer = Object.freeze({});

/**
 * A request on its way upstream, as every layer and engine sees it — independent of the edge that
 * received it (node:http today; node:http2 streams and an undici `Dispatcher` adapter build it too).
 * What an edge must give: the body as a `Readable`, the peer, and word when the downstream goes away.
 */
export interface ProxyRequest {
  readonly method: string;
  /** Authority the request is for (Host or absolute-form URI), lower-cased, port kept. */
  host: string;
  /** Origin-form path with query, as sent upstream. */
  path: string;
  /** The headers sent upstream, already cleaned of hop-by-hop headers (`host` is set by the engine). */
  readonly headers: IncomingHttpHeaders;
  /** The request body as it arrives, unread (for a bodiless request, an empty stream). */
  readonly source: Readable;
  readonly peer: Peer;
  /** The buffered request body when a layer needed it (retries, body matching); else streamed. */
  body?: Buffer | undefined;
  /** A body too large to buffer: the bytes already read, then the rest of the stream (sent once). */
  bodyStream?: Readable | undefined;
  /** Aborts when the client leaves; made on first use (`clientSignal`), most requests never need it. */
  signal?: AbortSignal | undefined;
  /** True once the client has left before its answer was complete. */
  readonly downstreamGone: boolean;
  /**
   * `fn` runs once when the downstream exchange closes: the answer completed, or the client left
   * (`downstreamGone` tells which). While no answer has been written, a close means the client left.
   */
  onDownstreamClose(fn: () => void): void;
  /**
   * An edge whose body is a stream the engine can be piped from directly (HTTP/2): pipes the unread
   * body into `dst` — an upstream stream that never destroys its source — and calls `cancel` if the
   * client leaves before the body's end. False when the body was already taken as `source`.
   */
  pipeBody?(dst: Writable, cancel: () => void): boolean;
  offDownstreamClose(fn: () => void): void;
  /**
   * The node:http pair, only when the request came in over HTTP/1 on a node:http server — for an
   * engine that is built on it (http-proxy-3); everything else uses the fields above.
   */
  readonly http1: Http1Exchange | undefined;
  /** `http2` when the request came in over HTTP/2 (an upstream's `protocol: downstream` follows it); else HTTP/1.1. */
  readonly protocol?: 'http2' | undefined;
}

export interface Http1Exchange {
  readonly raw: IncomingMessage;
  readonly res: ServerResponse;
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
  /** The downstream peer's SPIFFE ID ('' for a plaintext peer): the access log's `peer`. */
  readonly peer: string;
  /** Why the upstream's TLS failed, when a `UF` answer is due to it ('' otherwise). */
  transportFailure: string;
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
