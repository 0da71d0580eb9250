/**
 * The forwarding engine is the innermost layer, behind this one small interface, so another engine
 * (undici, say) can be measured against http-proxy-3 without touching routing or resilience.
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
