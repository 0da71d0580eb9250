/**
 * The forwarding engine is the innermost layer, behind this one small interface, so another engine
 * can be measured against http-proxy-3 without touching routing or resilience: `http-proxy-3` (the
 * default) and `node` (node:http directly) both live behind it.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProxyRequest, ProxyResponse } from '../core/context.js';

export interface Attempt {
  readonly target: URL;
  readonly agent: http.Agent;
  /** Time allowed until the response headers arrive (ms). */
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
}

export interface ForwardingEngine {
  /**
   * Sends the request to `attempt.target` and resolves with the upstream response (headers read,
   * body still streaming). Rejects with a `ProxyError`: UF (connect), UT (timeout), UC (reset), DC
   * (the client left). The caller owns the returned body stream.
   */
  forward(req: ProxyRequest, attempt: Attempt): Promise<ProxyResponse>;
  /** Tunnels a WebSocket (or any Upgrade) request; `onError` gets the error if it cannot. */
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, target: URL, onError: (err: Error) => void): void;
  close(): void;
}

export const ENGINES = ['http-proxy-3', 'node'] as const;
export type EngineKind = (typeof ENGINES)[number];

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** Errors a pooled socket shows when the upstream closed it just as we reused it. */
export const STALE_SOCKET: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** Safe to send twice: idempotent, and either bodiless or buffered (a streamed body is consumed). */
export function replayable(req: ProxyRequest): boolean {
  if (!IDEMPOTENT.has(req.method)) return false;
  if (req.body !== undefined) return true;
  if (req.bodyStream !== undefined) return false;
  return bodiless(req);
}

/** No body by its framing headers: no Content-Length (or 0) and no Transfer-Encoding. */
export function bodiless(req: ProxyRequest): boolean {
  const h = req.headers;
  return (h['content-length'] === undefined || h['content-length'] === '0') && h['transfer-encoding'] === undefined;
}
