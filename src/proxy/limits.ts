/**
 * The edge's limits (SPEC §5 "Limits and overload", Envoy's edge best practices) on node:http's own
 * knobs, and the answers they give:
 *
 * | limit                 | node:http knob                        | answer                          |
 * |-----------------------|---------------------------------------|---------------------------------|
 * | `maxRequestHeadersKb` | `maxHeaderSize` (its default: 16 KiB) | 431, connection closed          |
 * | `maxHeadersCount`     | `maxHeadersCount` (default 2000)      | 431, connection closed          |
 * | `headersTimeout`      | `headersTimeout` + the checking timer | 408, connection closed          |
 * | `maxConnections`      | `server.maxConnections` ('drop')      | the connection closed at once   |
 * | (malformed head)      | llhttp parse errors (CL+TE, bad chunk…) | 400, connection closed        |
 *
 * node:http enforces `headersTimeout` only when its connection sweep runs, every
 * `connectionsCheckingInterval` (30 s by default): the sweep is set to a tenth of the timeout (between
 * 100 ms and 1 s), so a trickled head is cut within 10% of `headersTimeout`. The timeout counts from
 * a request's first byte (a connection's, for its first request); an idle keep-alive connection is
 * bounded by the keep-alive timeout instead. `requestTimeout` (the whole request, body included) is
 * off: a long upload is the route timeout's business.
 *
 * Node 24 rejects a head with more fields than `maxHeadersCount` (`HPE_HEADER_OVERFLOW`); older
 * versions silently dropped the extra fields. The knob is set one above the limit and the handler
 * checks the count itself, so the answer is 431 and nothing is forwarded either way.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { ListenerLimits } from '../config/index.js';
import type { EdgeRejectReason, ListenerName, ProxyEvents } from '../core/events.js';

/** Idle keep-alive connections from the app are kept this long (above the usual 60 s client idle). */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** Options for the listener's `http.createServer`. */
export function edgeServerOptions(limits: ListenerLimits): http.ServerOptions {
  return {
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    headersTimeout: limits.headersTimeout,
    requestTimeout: 0,
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.round(limits.headersTimeout / 10))),
    maxHeaderSize: limits.maxRequestHeadersKb * 1024,
  };
}

/** The limits node:http applies after creation, and the edge's answers to what it rejects. */
export function applyEdgeLimits(server: http.Server, listener: ListenerName, limits: ListenerLimits, events: ProxyEvents): void {
  server.maxHeadersCount = limits.maxHeadersCount + 1;
  server.maxConnections = limits.maxConnections;
  // Node closes the connection itself; this only counts it.
  server.on('drop', () => events.connectionOverflow(listener));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket, listener, events));
}

/** More header fields than the limit (Node let one more through): answered 431 by the listener. */
export function tooManyHeaders(req: http.IncomingMessage, limits: ListenerLimits): boolean {
  return req.rawHeaders.length > 2 * limits.maxHeadersCount;
}

const STATUS: Record<EdgeRejectReason, string> = {
  'header-too-large': '431 Request Header Fields Too Large',
  'headers-timeout': '408 Request Timeout',
  malformed: '400 Bad Request',
};

const MESSAGE: Record<EdgeRejectReason, string> = {
  'header-too-large': 'request head over the listener limits (maxRequestHeadersKb, maxHeadersCount)',
  'headers-timeout': 'request head not received within headersTimeout',
  malformed: 'malformed request',
};

/** What a node:http client error is, as the edge answers it. */
export function rejectReason(err: NodeJS.ErrnoException): EdgeRejectReason {
  if (err.code === 'HPE_HEADER_OVERFLOW') return 'header-too-large';
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'headers-timeout';
  return 'malformed';
}

/** The raw answer of an edge rejection: the sidecar's JSON error body, and the connection closes. */
export function rejectionBytes(reason: EdgeRejectReason): string {
  const body = JSON.stringify({ error: MESSAGE[reason], flags: '' });
  return `HTTP/1.1 ${STATUS[reason]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

/**
 * node:http's `clientError`: the head could not be parsed, was over the limits, or did not arrive in
 * time. The answer is written only if no response of an earlier request on the connection has
 * started (it would corrupt that one), as node:http's own handler does; the connection then closes.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, listener: ListenerName, events: ProxyEvents): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const reason = rejectReason(err);
  events.edgeRejected(listener, reason);
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  socket.end(rejectionBytes(reason));
  // A peer that never closes its side must not hold the socket: it goes once the answer had time to
  // arrive (destroying at once could reset the connection before the client reads the answer).
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
}

const CLOSE_GRACE_MS = 2000;
