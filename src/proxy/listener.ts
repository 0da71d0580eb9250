/**
 * The edge of the data plane: one HTTP server per direction. It resolves the request's authority and
 * path (origin-form with Host, or absolute-form when the app uses us as an HTTP proxy), cleans the
 * headers and hands the request to the request core (`pipeline/serve.ts`, shared with library mode:
 * the route on the snapshot current at arrival, its stack, rescue), then writes the answer. Every
 * socket and stream error is handled here: no peer can crash the process.
 *
 * One port takes HTTP/1.1, h2c (SPEC §11) and, with inbound mTLS (`tls`), TLS: a sniffing front
 * (edge-front.ts) listens and hands each connection to this node:http server, to the HTTP/2 edge
 * (http2-edge.ts: each stream the same edge-neutral request, through the same request core), or to
 * the TLS terminator, whose accepted connections come back to the server for the protocol ALPN
 * chose; a request's `peer` then carries the verified identity of a TLS peer.
 */
import http from '../core/node-http.js';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Direction, ListenerLimits } from '../config/index.js';
import type { Peer, ProxyResponse, RequestContext } from '../core/context.js';
import { badRequest, overloaded } from '../core/errors.js';
import type { ProxyEvents } from '../core/events.js';
import type { Snapshot } from '../core/snapshot.js';
import type { RequestObserver } from '../core/observer.js';
import { newContext, routeInput, serve } from '../pipeline/serve.js';
import { jsonError, rescue } from '../pipeline/rescue.js';
import type { ForwardingEngine } from './engine.js';
import { cleanRequestHeaders, setForwardingHeaders } from './headers.js';
import { Http1Request } from './http1-request.js';
import { applyEdgeLimits, edgeServerOptions, lingerAfterAnswer, malformedBody, routed, tooManyHeaders } from './limits.js';
import { takesTrailers, writeResponse } from './respond.js';
import { EdgeFront, type EdgeServer } from './edge-front.js';
import { createHttp2Server } from './http2-edge.js';

export interface ListenerDeps {
  readonly direction: Direction;
  readonly current: () => Snapshot;
  readonly engine: ForwardingEngine;
  readonly log: Logger;
  /** True once draining: answers carry `Connection: close`. */
  readonly draining: () => boolean;
  readonly track: { begin(): void; end(): void };
  readonly observer: RequestObserver;
  /** The listener's edge limits (proxy/limits.ts). */
  readonly limits: ListenerLimits;
  /** Edge rejections, connection overflow and shedding are reported here. */
  readonly events: ProxyEvents;
  /** The overload monitor: while `shedding`, new requests get 503 `OM`. */
  readonly overload: { readonly shedding: boolean; readonly percent: number };
  /** Inbound mutual TLS (`strict` or `permissive`); absent: plaintext only. */
  readonly tls?: InboundTls | undefined;
}

/** The inbound TLS mode and the terminator that checks each TLS peer (identity/tls-terminator.ts). */
export interface InboundTls {
  readonly mode: 'strict' | 'permissive';
  /** Makes the terminator; it hands each accepted connection to `accept`. */
  terminator(accept: (socket: TLSSocket) => void): { take(socket: Socket): void; refusePlaintext(socket: Socket): void };
}

interface Target { host: string; path: string }

const READ_MARK = Symbol('pilotfish.bytesRead');
const WRITTEN_MARK = Symbol('pilotfish.bytesWritten');
/** A client socket with the byte counts at which its last request ended. */
type Counted = IncomingMessage['socket'] & { [READ_MARK]?: number; [WRITTEN_MARK]?: number };

/** Splits the request target into authority and origin-form path; undefined when malformed. */
export function resolveTarget(req: IncomingMessage): Target | undefined {
  const url = req.url ?? '';
  if (url.startsWith('/')) {
    const host = req.headers.host;
    return host ? { host: lowerHost(host), path: url } : undefined;
  }
  if (!/^http:\/\//i.test(url)) return undefined;
  try {
    const u = new URL(url);
    return { host: u.host.toLowerCase(), path: `${u.pathname}${u.search}` };
  } catch {
    return undefined;
  }
}

let lastHost = '';
let lastLowerHost = '';
/**
 * `host.toLowerCase()`, remembered for the last Host seen: a sidecar's clients name the same few
 * authorities, and comparing a short string costs less than lower-casing it into a new one.
 */
function lowerHost(host: string): string {
  if (host !== lastHost) {
    lastHost = host;
    lastLowerHost = host.toLowerCase();
  }
  return lastLowerHost;
}

export function createListener(deps: ListenerDeps): EdgeServer {
  const tls = deps.tls;
  // The terminator hands accepted TLS connections back to the front, which gives them to the server for their protocol.
  const terminator = tls?.terminator((socket) => front.serve(socket));
  const front: EdgeFront = new EdgeFront(httpServer(deps), {
    http2: () => createHttp2Server(deps),
    // A connection that says nothing is cut like a trickled head.
    sniffTimeoutMs: deps.limits.headersTimeout,
    // The HTTP servers behind never accept (limits.ts): the connection cap is the front's.
    maxConnections: deps.limits.maxConnections,
    onDrop: () => deps.events.connectionOverflow(deps.direction),
    ...(tls && terminator ? { tls: { mode: tls.mode, take: (s: Socket) => terminator.take(s), onPlaintext: (s: Socket) => terminator.refusePlaintext(s) } } : {}),
  });
  return front;
}

function httpServer(deps: ListenerDeps): Server {
  const server = http.createServer(edgeServerOptions(deps.limits));
  server.on('request', (req, res) => handle(req, res, deps));
  server.on('upgrade', (req, socket, head) => upgrade(req, socket, head, deps));
  // Malformed or oversized heads, trickled heads, connections past the cap: answered, never thrown.
  applyEdgeLimits(server, deps.direction, deps.limits, deps.events);
  return server;
}

function handle(req: IncomingMessage, res: ServerResponse, deps: ListenerDeps): void {
  deps.track.begin();
  req.on('error', noop);
  res.on('error', noop);
  const socket = req.socket as Counted;
  // Wire bytes of this request on the client connection, head included: counted from where the
  // previous request on the connection ended (the head is already read when 'request' fires).
  const read0 = socket[READ_MARK] ?? 0;
  const written0 = socket[WRITTEN_MARK] ?? 0;
  const snapshot = deps.current();
  const ctx = newContext(deps.direction, snapshot, (socket as Peer).peerIdentity?.spiffeId ?? '');
  const target = resolveTarget(req);
  let ended = false;
  // Called once, when the answer is complete or abandoned (writeResponse's callback, after any
  // UC/DC flag is set): the in-flight count for the drain, then telemetry.
  const done = (): void => {
    if (ended) return;
    ended = true;
    deps.track.end();
    const bytesRead = socket.bytesRead;
    const bytesWritten = socket.bytesWritten;
    socket[READ_MARK] = bytesRead;
    socket[WRITTEN_MARK] = bytesWritten;
    deps.observer.end(ctx, {
      method: req.method ?? '', host: target?.host ?? '', path: target?.path ?? req.url ?? '',
      status: res.headersSent && !ctx.flags.includes('DC') ? res.statusCode : 499,
      durationMs: performance.now() - ctx.start, bytesIn: bytesRead - read0, bytesOut: bytesWritten - written0,
    });
  };
  if (!target) {
    writeResponse(res, rescue(badRequest('malformed request target or missing Host'), ctx, deps.log), ctx, true, done);
    return;
  }
  if (tooManyHeaders(req, deps.limits)) {
    // Nothing is routed or forwarded; the connection closes (its body, if any, is never read).
    deps.events.edgeRejected(deps.direction, 'header-too-large');
    lingerAfterAnswer(socket);
    writeResponse(res, jsonError(431, 'request head over the listener limits (maxRequestHeadersKb, maxHeadersCount)', ctx), ctx, true, done);
    return;
  }
  const trailers = takesTrailers(req.headers.te); // `te` is hop-by-hop: gone once cleaned
  const headers = cleanRequestHeaders(req.headers);
  req.headers = headers;
  (ctx as { requestId: string }).requestId = setForwardingHeaders(headers, socket.remoteAddress, target.host);
  const url = target.path;
  if (deps.observer.traces !== false) {
    ctx.trace = deps.observer.start(headers, {
      direction: deps.direction, method: req.method ?? 'GET', host: target.host, path: url,
      peerAddress: socket.remoteAddress, peerPort: socket.remotePort, requestId: ctx.requestId,
    });
  }
  const input = routeInput(target.host, url, req.method ?? 'GET', headers);
  const preq = new Http1Request(req, res, input.method, target.host, url, headers);
  // A body that turns out malformed after the head was routed is answered 400, whatever the route came to.
  routed(req, res);
  if (deps.overload.shedding) {
    // Shed before anything is buffered or routed. The connection stays open: node:http reads and
    // drops an unread body after the answer, which costs no memory, while closing on a client still
    // uploading would reset the connection and could lose the 503 before the client reads it.
    deps.events.overloadShed(deps.direction);
    writeResponse(res, rescue(overloaded(deps.overload.percent), ctx, deps.log), ctx, deps.draining(), done);
    return;
  }
  void serve(snapshot, preq, input, ctx, deps.log).then((resp) => {
    if (!malformedBody(req)) return writeResponse(res, resp, ctx, deps.draining(), done, trailers);
    if (!Buffer.isBuffer(resp.body)) resp.body.destroy();
    writeResponse(res, malformedAnswer(ctx, deps), ctx, true, done);
  });
}

/** The answer to a request whose body was malformed: a 400 with only its own flag. */
function malformedAnswer(ctx: RequestContext, deps: ListenerDeps): ProxyResponse {
  ctx.flags.length = 0; // what the aborted upstream try came to is not the answer
  return rescue(badRequest('malformed request body'), ctx, deps.log);
}

function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, deps: ListenerDeps): void {
  socket.on('error', noop);
  const target = resolveTarget(req);
  const fail = (status: number, reason: string): void => {
    if (socket.writable) socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
    else socket.destroy();
  };
  if (!target) return fail(400, 'Bad Request');
  if (tooManyHeaders(req, deps.limits)) {
    deps.events.edgeRejected(deps.direction, 'header-too-large');
    return fail(431, 'Request Header Fields Too Large');
  }
  if (deps.overload.shedding) {
    deps.events.overloadShed(deps.direction);
    return fail(503, 'Service Unavailable');
  }
  const to = upgradeEndpoint(deps, target.host, target.path, req.method ?? 'GET', req.headers);
  if (!('endpoint' in to)) return fail(to.status, to.status === 404 ? 'Not Found' : 'Service Unavailable');
  req.url = target.path;
  deps.engine.upgrade(req, socket, head, to.endpoint, (err) => {
    deps.log.debug({ err, route: to.route }, 'upgrade failed');
    fail(503, 'Service Unavailable');
  });
}

/**
 * Where a WebSocket goes — an HTTP/1.1 Upgrade, or an HTTP/2 extended CONNECT (http2-websocket.ts):
 * an endpoint of the route it matches on the current snapshot (and the route's timeout), else the
 * status that refuses it (404 no route, 503 no endpoint).
 */
export function upgradeEndpoint(deps: ListenerDeps, host: string, path: string, method: string, headers: IncomingHttpHeaders): { endpoint: URL; route: string; timeoutMs: number } | { status: 404 } | { status: 503; route: string } {
  const route = deps.current().route(deps.direction, routeInput(host, path, method, headers));
  if (route === undefined) return { status: 404 };
  const endpoint = route.upgradeTarget(host);
  return endpoint === undefined ? { status: 503, route: route.name } : { endpoint, route: route.name, timeoutMs: route.timeoutMs };
}

function noop(): void {}
