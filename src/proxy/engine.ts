/**
 * The forwarding engine is the innermost layer, behind this one small interface, so engines can be
 * measured against each other without touching routing or resilience: `undici` (the dispatcher
 * API), `node` (node:http directly) and `http-proxy-3` live behind it.
 *
 * An engine owns the connections to upstreams: `connections(upstream, options)` gives the
 * per-upstream handle the registry keeps across reloads (an unchanged upstream keeps its pooled
 * connections, a removed one is disposed), and each attempt names it. Inside, an engine keys its
 * pools by endpoint and by what the options say about the connection, so HTTP/2 sessions and TLS
 * origination can join `ConnectionOptions` without the pipeline changing. Admission (`maxConnections`
 * in flight, the pending queue, 503 `UO`) stays above, in the resilience module's `ConnectionPool`.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProxyRequest, ProxyResponse } from '../core/context.js';
import type { UpstreamTls } from './tls-connect.js';

/** How an upstream's connections are made and kept. */
export interface ConnectionOptions {
  /** Longest a new connection may take to connect (ms); reused connections are not timed. */
  readonly connectTimeoutMs: number;
  /**
   * How long an idle pooled connection is kept (ms). Set below the upstream's own keep-alive
   * timeout, so a connection we reuse is one the upstream still holds.
   */
  readonly idleTimeoutMs: number;
  /**
   * TLS origination (the upstream's `tls`, SPEC §12): absent, connections are plaintext. Pools of a
   * TLS upstream hold only TLS connections (a changed `tls` block is a new upstream state).
   */
  readonly tls?: UpstreamTls | undefined;
  /**
   * The HTTP version spoken to the endpoints (SPEC §11): `http1`, `http2` (prior knowledge, a pool
   * of multiplexed sessions per endpoint), or `downstream` — the version of each request. Default
   * `downstream`.
   */
  readonly protocol?: UpstreamProtocol | undefined;
  /** HTTP/2: at most this many sessions per endpoint (the upstream's `maxConnections`). Default 1024. */
  readonly maxConnections?: number | undefined;
}

export type UpstreamProtocol = 'http1' | 'http2' | 'downstream';

/** An upstream's connections as one engine holds them: one pool per endpoint. */
export interface UpstreamConnections {
  /** Open connections: carrying a request (`active`) and pooled (`idle`). For /clusters. */
  describe(): { active: number; idle: number };
  /**
   * Cluster warming (docs/data-plane.md): starts `perEndpoint` connections to each target (an
   * endpoint's URL) that has none, open or opening, and pools them for the first requests. Returns
   * at once; a connect that fails is dropped (the first request connects as it would have).
   * Optional: an engine without it (node, http-proxy-3, the HTTP/2 pools) warms nothing.
   */
  warm?(targets: readonly URL[], perEndpoint: number): void;
  /**
   * The upstream is gone (reload): idle connections close now, busy ones when their request ends.
   * A request still running on an old snapshot is served, on a connection that is not pooled.
   */
  dispose(): void;
}

export interface Attempt {
  readonly target: URL;
  /** The upstream's connections, made by this engine's `connections()`. */
  readonly connections: UpstreamConnections;
  /** Time allowed until the response headers arrive (ms). */
  readonly timeoutMs: number;
}

export interface ForwardingEngine {
  /** The connections of one upstream (kept by the registry while the upstream is unchanged). */
  connections(upstream: string, options: ConnectionOptions): UpstreamConnections;
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

export const ENGINES = ['undici', 'node', 'http-proxy-3'] as const;
export type EngineKind = (typeof ENGINES)[number];
/** The engine `pilotfish run` uses unless told otherwise (chosen by `npm run bench`, docs/benchmarks.md). */
export const DEFAULT_ENGINE: EngineKind = 'undici';

export function isEngineKind(value: string | undefined): value is EngineKind {
  return (ENGINES as readonly string[]).includes(value ?? '');
}

/**
 * Loads and makes an engine: only the chosen one's module (and its library) is imported, so a
 * sidecar never carries the others (undici, http-proxy-3: ~15 MB of RSS each).
 */
export async function createEngine(kind: EngineKind): Promise<ForwardingEngine> {
  const { ProtocolEngine } = await import('./protocol-engine.js');
  return new ProtocolEngine(await createHttp1Engine(kind));
}

/** The HTTP/1.1 engine alone; `createEngine` puts the HTTP/2 side (protocol-engine.ts) around it. */
async function createHttp1Engine(kind: EngineKind): Promise<ForwardingEngine> {
  switch (kind) {
    case 'undici': return new (await import('./undici-engine.js')).UndiciEngine();
    case 'node': return new (await import('./node-http-engine.js')).NodeHttpEngine();
    case 'http-proxy-3': return new (await import('./http-proxy-engine.js')).HttpProxyEngine();
  }
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/**
 * Errors a pooled connection shows when the upstream closed it just as we reused it: a reset, or
 * (undici's `UND_ERR_SOCKET`, node:http's "socket hang up" ECONNRESET) a close before any answer.
 */
export const STALE_SOCKET: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);

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

const NO_CONNECTIONS: UpstreamConnections = Object.freeze({ describe: () => ({ active: 0, idle: 0 }), dispose: () => {} });

/**
 * An engine that sends nothing, for building snapshots that never carry traffic (`pilotfish
 * explain`): it loads no forwarding library.
 */
export const OFFLINE_ENGINE: ForwardingEngine = Object.freeze({
  connections: () => NO_CONNECTIONS,
  forward: () => Promise.reject(new Error('the offline engine sends nothing')),
  upgrade: (_req: http.IncomingMessage, _socket: Duplex, _head: Buffer, _target: URL, onError: (err: Error) => void) => onError(new Error('the offline engine sends nothing')),
  close: () => {},
});

/** `[::1]` → `::1`: a URL's host name as a socket connects to it (a URL brackets an IPv6 address). */
export function unbracket(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1) : host;
}
