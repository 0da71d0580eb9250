/**
 * The HTTP/2 edge (SPEC §11): the node:http2 server behind a listener's sniffing front takes h2c
 * connections; each stream becomes an `Http2Request` — `:authority` and `:path` what the router
 * matches, like Host and the request target on HTTP/1.1 — and runs the route stack of the snapshot
 * current at its arrival, through the same rescue as the HTTP/1 edge (a gRPC request's errors come
 * back in gRPC form). A stream's error, a session's error, a client's RST: each is handled here.
 */
import type { Http2Server, Http2Session, IncomingHttpHeaders as Http2Headers, ServerHttp2Stream } from 'node:http2';
import { performance } from 'node:perf_hooks';
import { NO_PEER, type Peer, type RequestContext } from '../core/context.js';
import { badRequest, overloaded } from '../core/errors.js';
import { grpcAnswer, GrpcStatus, isGrpc } from '../core/grpc.js';
import { http2 } from '../core/lazy-builtins.js';
import { rescue } from '../pipeline/rescue.js';
import { setForwardingHeaders } from './headers.js';
import { Http2Request, requestHeaders } from './http2-request.js';
import { connectWebSocket, isWebSocketConnect } from './http2-websocket.js';
import type { ListenerDeps } from './listener.js';
import { newContext, routeInput, serve } from '../pipeline/serve.js';
import { writeH2Response, type H2Sent } from './respond-h2.js';

/**
 * Settings we announce: enough concurrent streams for a busy client (Envoy's default is 2^31-1;
 * nghttp2's 100 throttles a gRPC channel), a 1 MiB stream window so one slow stream does not
 * hold a fast one back while memory per stream stays bounded, and extended CONNECT (RFC 8441:
 * WebSockets over HTTP/2, http2-websocket.ts).
 */
const SETTINGS = { maxConcurrentStreams: 1000, initialWindowSize: 1024 * 1024, enableConnectProtocol: true };
/** A client session with no frame for this long is told to go away (the HTTP/1 edge's keep-alive timeout). */
const IDLE_SESSION_MS = 65_000;

/** The listener's node:http2 server: made (and node:http2 loaded) by the edge front on the first h2c or ALPN h2 connection. */
export function createHttp2Server(deps: ListenerDeps): Http2Server {
  const server = http2().createServer({
    // The listener's head limits, as HTTP/2 says them: node:http2 refuses a stream past them itself.
    settings: { ...SETTINGS, maxHeaderListSize: deps.limits.maxRequestHeadersKb * 1024 },
    maxHeaderListPairs: deps.limits.maxHeadersCount + 4, // + the four request pseudo-headers
    maxSessionMemory: 64,
  });
  server.on('stream', (stream, headers, _flags, raw: string[]) => handleStream(stream, headers, raw, deps));
  server.on('session', (session) => {
    session.on('error', noop);
    // Idle as long as an HTTP/1.1 keep-alive connection may be: then GOAWAY, streams in flight finish.
    session.setTimeout(IDLE_SESSION_MS, () => session.close());
  });
  server.on('sessionError', noop);
  return server;
}

function handleStream(stream: ServerHttp2Stream, headers: Http2Headers, raw: readonly string[] | undefined, deps: ListenerDeps): void {
  deps.track.begin();
  stream.on('error', noop);
  const snapshot = deps.current();
  // Over mutual TLS (ALPN h2) the session's socket carries the peer's verified identity.
  const peer = peerOf(stream);
  const ctx = newContext(deps.direction, snapshot, peer.peerIdentity?.spiffeId ?? '');
  const method = headers[':method'] ?? '';
  const authority = (headers[':authority'] ?? headers.host)?.toLowerCase();
  const path = headers[':path'];
  const grpc = isGrpc(headers['content-type']);
  const x = new Exchange(deps, ctx, method, authority, path, grpc);
  const websocket = isWebSocketConnect(headers);
  if (!authority || !path || !path.startsWith('/') || (method === 'CONNECT' && !websocket)) {
    const err = badRequest('malformed request: missing :authority or :path, or a CONNECT that is not a WebSocket (RFC 8441)');
    writeH2Response(stream, grpc ? grpcAnswer(GrpcStatus.INTERNAL, err.message) : rescue(err, ctx, deps.log), ctx, x);
    return;
  }
  if (deps.overload.shedding) {
    // Memory pressure: shed before anything is buffered or routed, as the HTTP/1 edge does.
    deps.events.overloadShed(deps.direction);
    writeH2Response(stream, rescue(overloaded(deps.overload.percent), ctx, deps.log, grpc), ctx, x);
    return;
  }
  if (websocket) { connectWebSocket(stream, headers, authority, path, ctx, x, deps, () => x.untrack()); return; }
  const clean = requestHeaders(headers, authority, raw);
  // A body of unknown length, as the edge-neutral request says it (the HTTP/1 engines frame it chunked).
  if (!stream.endAfterHeaders && clean['content-length'] === undefined) clean['transfer-encoding'] = 'chunked';
  (ctx as { requestId: string }).requestId = setForwardingHeaders(clean, peer.remoteAddress, authority);
  if (deps.observer.traces !== false) {
    ctx.trace = deps.observer.start(clean, {
      direction: deps.direction, method, host: authority, path,
      peerAddress: peer.remoteAddress, peerPort: peer.remotePort, requestId: ctx.requestId,
    });
  }
  const input = routeInput(authority, path, method, clean);
  const preq = (x.preq = new Http2Request(stream, method, authority, path, clean, peer));
  // The request core answers every failure itself (in gRPC form for a gRPC request).
  void serve(snapshot, preq, input, ctx, deps.log).then((resp) => writeH2Response(stream, resp, ctx, x));
}

/**
 * One stream's exchange as the edge follows it: what was sent (`H2Sent`), and its end — the access
 * log line and metrics, once. One object per stream, where the counts, the in-flight tracking and
 * the end were a literal and two closures over the stream's variables.
 */
class Exchange implements H2Sent {
  status = 0;
  grpcStatus: number | undefined = undefined;
  bytesOut = 0;
  bytesIn = 0;
  /** The request once the stream is routed (it counts the body bytes read). */
  preq: Http2Request | undefined = undefined;
  private ended = false;
  private tracked = true;

  constructor(
    private readonly deps: ListenerDeps,
    private readonly ctx: RequestContext,
    private readonly method: string,
    private readonly authority: string | undefined,
    private readonly path: string | undefined,
    private readonly grpc: boolean,
  ) {}

  /** In flight until answered; a WebSocket tunnel stops counting once open (as an HTTP/1.1 upgrade does). */
  untrack(): void {
    if (this.tracked) { this.tracked = false; this.deps.track.end(); }
  }

  done(): void {
    if (this.ended) return;
    this.ended = true;
    this.untrack();
    const { ctx } = this;
    this.deps.observer.end(ctx, {
      method: this.method, host: this.authority ?? '', path: this.path ?? '',
      status: this.status !== 0 && !ctx.flags.includes('DC') ? this.status : 499,
      durationMs: performance.now() - ctx.start, bytesIn: this.preq === undefined ? this.bytesIn : this.preq.bytesIn, bytesOut: this.bytesOut,
      protocol: 'HTTP/2', grpcStatus: this.grpc ? this.grpcStatus ?? (ctx.flags.includes('DC') ? GrpcStatus.CANCELLED : GrpcStatus.UNKNOWN) : undefined,
    });
  }
}

const PEER = Symbol('pilotfish.peer');

/**
 * What a stream's connection says of its peer — address, port, mutual-TLS identity — read once per
 * session: `session.socket` is node:http2's Proxy over the socket, each property read through it
 * a trap and a getter, and a connection's peer does not change.
 */
function peerOf(stream: ServerHttp2Stream): Peer {
  const session = stream.session as (Http2Session & { [PEER]?: Peer }) | undefined;
  if (session === undefined) return NO_PEER;
  let peer = session[PEER];
  if (peer === undefined) {
    const socket = session.socket as Peer;
    peer = session[PEER] = { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, peerIdentity: socket.peerIdentity };
  }
  return peer;
}

function noop(): void {}
