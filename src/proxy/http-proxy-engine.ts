/**
 * The forwarding engine on http-proxy-3. One `ProxyServer` serves every request and its events are
 * global, so each attempt passes its `Call` in the per-call options under a symbol (http-proxy-3
 * copies the options object per call, symbol keys included, and hands it to `proxyReq` listeners)
 * and parks it on the request; a response is matched to its call by the upstream request that
 * produced it: every event reaches exactly the attempt that caused it, even when a retry reuses the
 * same incoming request. Responses are self-handled: the engine resolves with the upstream response and the caller
 * decides (retry, rescue, or stream it to the client).
 */
import type http from 'node:http';
import { Readable, type Duplex } from 'node:stream';
import { createProxyServer, type ServerOptions } from 'http-proxy-3';
import type { ProxyRequest, ProxyResponse } from '../core/context.js';
import { connectFailure, downstreamDisconnect, isConnectError, upstreamReset, upstreamTimeout, ProxyError } from '../core/errors.js';
import type { Attempt, ForwardingEngine } from './engine.js';

const SLOT = Symbol('pilotfish.attempt');

type Parked = http.IncomingMessage & { [SLOT]?: Call | undefined };
type WithSlot = { [SLOT]?: Call };

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** Errors a pooled socket shows when the upstream closed it just as we reused it. */
const STALE_SOCKET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export class HttpProxyEngine implements ForwardingEngine {
  private readonly proxy = createProxyServer({ selfHandleResponse: true, xfwd: false, prependPath: false });

  constructor() {
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

  forward(req: ProxyRequest, attempt: Attempt): Promise<ProxyResponse> {
    return new Promise((resolve, reject) => this.send(new Call(this, req, attempt, false, resolve, reject)));
  }

  /** Starts (or, for a stale pooled socket, restarts) one call through http-proxy-3. Internal to this module. */
  send(call: Call): void {
    const { req, attempt } = call;
    const raw = req.raw as Parked;
    raw[SLOT] = call;
    raw.url = req.path;
    raw.headers.host = req.host;
    const body = req.body !== undefined ? Readable.from([req.body]) : req.bodyStream ?? (call.replay ? Readable.from([]) : undefined);
    // One literal of a fixed shape: a spread or computed key in it took the slow path (~4 µs a call
    // in the bench profile). http-proxy-3 reads `buffer || req`, so an absent body stays undefined.
    const options = {
      target: attempt.target,
      agent: attempt.agent,
      connectTimeout: attempt.connectTimeoutMs,
      buffer: body,
    } as ServerOptions & WithSlot;
    options[SLOT] = call;
    this.proxy.web(raw, req.res, options, (err) => call.onError(err));
  }

  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, target: URL, onError: (err: Error) => void): void {
    this.proxy.ws(req, socket, head, { target }, (err) => onError(err));
  }

  close(): void {
    this.proxy.close();
    this.proxy.removeAllListeners();
  }
}

/**
 * One attempt's state: its upstream request once made, its timer, and how it settles. A class rather
 * than a handful of closures per attempt: the hot path allocates one object.
 */
class Call {
  proxyReq: http.ClientRequest | undefined;
  private settled = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly engine: HttpProxyEngine,
    readonly req: ProxyRequest,
    readonly attempt: Attempt,
    readonly replay: boolean,
    private readonly resolve: (r: ProxyResponse) => void,
    private readonly reject: (e: ProxyError) => void,
  ) {
    this.timer = setTimeout(onTimeout, Math.max(1, attempt.timeoutMs), this);
  }

  /** Settles once: false when the call had already settled. */
  private finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    clearTimeout(this.timer);
    const raw = this.req.raw as Parked;
    if (raw[SLOT] === this) raw[SLOT] = undefined;
    return true;
  }

  onRequest(pr: http.ClientRequest): void {
    // A request whose attempt already ended (timed out while queued for a socket) is dropped here.
    if (this.settled) { pr.destroy(); return; }
    this.proxyReq = pr;
  }

  onResponse(proxyRes: http.IncomingMessage): void {
    if (!this.finish()) { proxyRes.destroy(); return; }
    proxyRes.on('error', noop); // the consumer attaches its own; never let one go unhandled
    this.resolve({ status: proxyRes.statusCode ?? 502, headers: proxyRes.headers, body: proxyRes });
  }

  onTimeout(): void {
    if (!this.finish()) return;
    this.proxyReq?.destroy();
    this.reject(upstreamTimeout(this.attempt.target.host, this.attempt.timeoutMs));
  }

  onError(err: Error): void {
    if (!this.finish()) return;
    const { req } = this;
    if (req.res.destroyed || req.raw.socket.destroyed) return this.reject(downstreamDisconnect());
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (!this.replay && this.proxyReq?.reusedSocket && STALE_SOCKET.has(code) && replayable(req)) {
      // The upstream closed a pooled socket as we reused it: nothing reached it, send again once.
      return this.engine.send(new Call(this.engine, req, this.attempt, true, this.resolve, this.reject));
    }
    const target = this.attempt.target.host;
    this.reject(isConnectError(err) ? connectFailure(target, err) : upstreamReset(target, err));
  }
}

function onTimeout(call: Call): void {
  call.onTimeout();
}

function noop(): void {}

/** Safe to send twice: idempotent, and either bodiless or buffered (a streamed body is consumed). */
function replayable(req: ProxyRequest): boolean {
  if (!IDEMPOTENT.has(req.method)) return false;
  if (req.body !== undefined) return true;
  if (req.bodyStream !== undefined) return false;
  const h = req.headers;
  return (h['content-length'] === undefined || h['content-length'] === '0') && h['transfer-encoding'] === undefined;
}
