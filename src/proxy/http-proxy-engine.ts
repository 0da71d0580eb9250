/**
 * The forwarding engine on http-proxy-3. One `ProxyServer` serves every request and its events are
 * global, so each attempt passes its `Call` in the per-call options under a symbol (http-proxy-3
 * copies the options object per call, symbol keys included, and hands it to `proxyReq` listeners)
 * and parks it on the request; a response is matched to its call by the upstream request that
 * produced it: every event reaches exactly the attempt that caused it, even when a retry reuses the
 * same incoming request. Responses are self-handled: the engine resolves with the upstream response
 * and the caller decides (retry, rescue, or stream it to the client). A replay (stale pooled socket)
 * is only ever of a buffered or bodiless request (`replayable`), so it takes the same body path.
 *
 * http-proxy-3 is built on a node:http request/response pair: a request that came without one (a
 * mirrored copy, library mode) goes through the `node` engine's call on the same agent instead.
 */
import type http from 'node:http';
import { Readable, type Duplex } from 'node:stream';
import { createProxyServer, type ServerOptions } from 'http-proxy-3';
import type { ProxyRequest, ProxyResponse } from '../core/context.js';
import type { ProxyError } from '../core/errors.js';
import { AgentConnections } from './agent-connections.js';
import { ClientRequestCall } from './attempt-call.js';
import { bodiless, type Attempt, type ConnectionOptions, type ForwardingEngine } from './engine.js';
import { NodeCall } from './node-http-engine.js';

const SLOT = Symbol('pilotfish.attempt');

type Parked = http.IncomingMessage & { [SLOT]?: Call | undefined };
type WithSlot = { [SLOT]?: Call };

/**
 * The request body of a bodiless request.
 * http-proxy-3 sends `options.buffer ?? req` with `.pipe(proxyReq)`: this ends the upstream request
 * at once instead of piping an empty request stream into it (a pipe is eight listeners and a few
 * ticks per request). Node's server drains the unread request itself.
 */
const NO_BODY = { pipe: (dest: http.ClientRequest) => dest.end() } as unknown as Readable;

export class HttpProxyEngine implements ForwardingEngine {
  private readonly proxy = createProxyServer({ selfHandleResponse: true, xfwd: false, prependPath: false });

  constructor() {
    // http-proxy-3's `deleteLength` pass sets `content-length: 0` on a DELETE or OPTIONS request that
    // has none — and then streams the body anyway. A chunked body (its Transfer-Encoding is a
    // hop-by-hop header the edge removed) thus went upstream after a request that declared none: the
    // upstream read the body as the next request on the connection (request smuggling: a chunk
    // carrying `GET /admin …` reached it as a request of its own). Node's ClientRequest frames the
    // body itself (chunked) when no length is given, so the pass is dropped.
    const passes = this.proxy as unknown as { webPasses: Array<{ name: string }> };
    passes.webPasses = passes.webPasses.filter((pass) => pass.name !== 'deleteLength');
    this.proxy.on('proxyReq', (proxyReq, _req, _res, options) => (options as WithSlot)[SLOT]?.onRequest(proxyReq));
    // One listener for every response (none added per request): it belongs to the attempt parked on
    // the request whose upstream request produced it; an orphan (its attempt already over) is dropped.
    this.proxy.on('proxyRes', (proxyRes, req) => {
      const call = (req as Parked)[SLOT];
      if (call !== undefined && call.proxyReq === (proxyRes as { req?: unknown }).req) call.onResponse(proxyRes);
      else proxyRes.destroy();
    });
    // Without an `error` listener http-proxy-3 throws. Errors of a call with a callback go to the
    // callback; the client-gone path (`econnreset`) goes to the attempt parked on the request.
    this.proxy.on('error', (err, req) => (req as Parked | undefined)?.[SLOT]?.onError(err));
    this.proxy.on('econnreset', (err, req) => (req as Parked)[SLOT]?.onError(err));
  }

  connections(_upstream: string, options: ConnectionOptions): AgentConnections {
    return new AgentConnections(options);
  }

  forward(req: ProxyRequest, attempt: Attempt): Promise<ProxyResponse> {
    if (req.http1 === undefined) return new Promise((resolve, reject) => new NodeCall(req, attempt, false, resolve, reject).send());
    return new Promise((resolve, reject) => this.send(new Call(this, req, attempt, false, resolve, reject)));
  }

  /** Starts (or, for a stale pooled socket, restarts) one call through http-proxy-3. Internal to this module. */
  send(call: Call): void {
    const { req, attempt } = call;
    const { raw, res } = req.http1!;
    const parked = raw as Parked;
    parked[SLOT] = call;
    keepSocketForErrors(parked);
    raw.url = req.path;
    raw.headers.host = req.host;
    const body = req.body !== undefined ? Readable.from([req.body]) : req.bodyStream ?? (bodiless(req) ? NO_BODY : undefined);
    // One literal of a fixed shape: a spread or computed key in it took the slow path (~4 µs a call
    // in the bench profile). http-proxy-3 reads `buffer || req`, so an absent body stays undefined.
    // `toProxy` sends `req.url` as it is: the path the route matched, not one re-parsed (and
    // normalised: `/a/../b` → `/b`) by a URL parse per request.
    const connections = attempt.connections as AgentConnections;
    const options = {
      target: attempt.target,
      agent: connections.agent,
      connectTimeout: connections.connectTimeoutMs,
      toProxy: true,
      buffer: body,
    } as ServerOptions & WithSlot;
    options[SLOT] = call;
    this.proxy.web(raw, res, options, (err) => call.onError(err));
  }

  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, target: URL, onError: (err: Error) => void): void {
    this.proxy.ws(req, socket, head, { target }, (err) => onError(err));
  }

  close(): void {
    this.proxy.close();
    this.proxy.removeAllListeners();
  }
}

const PINNED = Symbol('pilotfish.socketPinned');

/**
 * http-proxy-3's error handler on the incoming request reads `req.socket.destroyed`; node:http sets
 * `req.socket` to null when a request is torn down (a client that leaves mid-upload), and the
 * 'error' that follows then threw inside the handler — an uncaught TypeError that ended the process.
 * A listener put first restores the (destroyed) socket for the listeners after it.
 */
function keepSocketForErrors(raw: Parked & { [PINNED]?: true }): void {
  if (raw[PINNED]) return;
  raw[PINNED] = true;
  const socket = raw.socket;
  raw.prependListener('error', () => { if (!raw.socket) (raw as { socket: unknown }).socket = socket; });
}

/** An attempt through http-proxy-3: parked on the request (and in the per-call options) while it runs. */
class Call extends ClientRequestCall {
  constructor(
    private readonly engine: HttpProxyEngine,
    req: ProxyRequest,
    attempt: Attempt,
    replay: boolean,
    resolve: (r: ProxyResponse) => void,
    reject: (e: ProxyError) => void,
  ) {
    super(req, attempt, replay, resolve, reject);
  }

  onRequest(pr: http.ClientRequest): void {
    // A request whose attempt already ended (timed out while queued for a socket) is dropped here.
    if (this.settled) { pr.destroy(); return; }
    this.proxyReq = pr;
  }

  protected released(): void {
    const raw = this.req.http1!.raw as Parked;
    if (raw[SLOT] === this) raw[SLOT] = undefined;
  }

  protected again(): void {
    this.engine.send(new Call(this.engine, this.req, this.attempt, true, this.resolve, this.reject));
  }
}
