/**
 * The forwarding engine on http-proxy-3. One `ProxyServer` serves every request and its events are
 * global, so each attempt passes its callbacks in the per-call options under a symbol (http-proxy-3
 * copies the options object per call, symbol keys included, and hands it to `proxyReq` listeners):
 * every event reaches exactly the attempt that caused it, even when a retry reuses the same incoming
 * request. Responses are self-handled: the engine resolves with the upstream response and the caller
 * decides (retry, rescue, or stream it to the client).
 */
import type http from 'node:http';
import { Readable, type Duplex } from 'node:stream';
import { createProxyServer, type ServerOptions } from 'http-proxy-3';
import type { ProxyRequest, ProxyResponse } from '../core/context.js';
import { connectFailure, downstreamDisconnect, isConnectError, upstreamReset, upstreamTimeout, ProxyError } from '../core/errors.js';
import type { Attempt, ForwardingEngine } from './engine.js';

const SLOT = Symbol('pilotfish.attempt');

interface Slot {
  /** The attempt's upstream request once http-proxy-3 made it. */
  proxyReq: http.ClientRequest | undefined;
  onRequest(proxyReq: http.ClientRequest): void;
  onResponse(proxyRes: http.IncomingMessage): void;
  onError(err: Error): void;
}

type Parked = http.IncomingMessage & { [SLOT]?: Slot | undefined };
type WithSlot = { [SLOT]?: Slot };

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
      const slot = (req as Parked)[SLOT];
      if (slot !== undefined && slot.proxyReq === (proxyRes as { req?: unknown }).req) slot.onResponse(proxyRes);
      else proxyRes.destroy();
    });
    // Without an `error` listener http-proxy-3 throws. Errors of a call with a callback go to the
    // callback; the client-gone path (`econnreset`) goes to the attempt parked on the request.
    this.proxy.on('error', (err, req) => (req as Parked | undefined)?.[SLOT]?.onError(err));
    this.proxy.on('econnreset', (err, req) => (req as Parked)[SLOT]?.onError(err));
  }

  forward(req: ProxyRequest, attempt: Attempt): Promise<ProxyResponse> {
    return new Promise((resolve, reject) => this.send(req, attempt, false, resolve, reject));
  }

  private send(req: ProxyRequest, attempt: Attempt, replay: boolean, resolve: (r: ProxyResponse) => void, reject: (e: ProxyError) => void): void {
    const raw = req.raw as Parked;
    const target = attempt.target.host;
    let settled = false;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      if (raw[SLOT] === slot) raw[SLOT] = undefined;
      return true;
    };
    const timer = setTimeout(() => {
      if (!finish()) return;
      slot.proxyReq?.destroy();
      reject(upstreamTimeout(target, attempt.timeoutMs));
    }, Math.max(1, attempt.timeoutMs));
    const slot: Slot = {
      proxyReq: undefined,
      onRequest(pr) {
        // A request whose attempt already ended (timed out while queued for a socket) is dropped here.
        if (settled) { pr.destroy(); return; }
        slot.proxyReq = pr;
      },
      onResponse(proxyRes) {
        if (!finish()) { proxyRes.destroy(); return; }
        proxyRes.on('error', noop); // the consumer attaches its own; never let one go unhandled
        resolve({ status: proxyRes.statusCode ?? 502, headers: proxyRes.headers, body: proxyRes });
      },
      onError: (err) => {
        if (!finish()) return;
        if (req.res.destroyed || raw.socket.destroyed) return reject(downstreamDisconnect());
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (!replay && slot.proxyReq?.reusedSocket && STALE_SOCKET.has(code) && replayable(req)) {
          // The upstream closed a pooled socket as we reused it: nothing reached it, send again once.
          return this.send(req, attempt, true, resolve, reject);
        }
        reject(isConnectError(err) ? connectFailure(target, err) : upstreamReset(target, err));
      },
    };
    raw[SLOT] = slot;
    raw.url = req.path;
    raw.headers.host = req.host;
    const body = req.body !== undefined ? Readable.from([req.body]) : req.bodyStream ?? (replay ? Readable.from([]) : undefined);
    // One literal of a fixed shape: a spread or computed key in it took the slow path (~4 µs a call
    // in the bench profile). http-proxy-3 reads `buffer || req`, so an absent body stays undefined.
    const options = {
      target: attempt.target,
      agent: attempt.agent,
      connectTimeout: attempt.connectTimeoutMs,
      buffer: body,
    } as ServerOptions & WithSlot;
    options[SLOT] = slot;
    this.proxy.web(raw, req.res, options, (err) => slot.onError(err));
  }

  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, target: URL, onError: (err: Error) => void): void {
    this.proxy.ws(req, socket, head, { target }, (err) => onError(err));
  }

  close(): void {
    this.proxy.close();
    this.proxy.removeAllListeners();
  }
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
