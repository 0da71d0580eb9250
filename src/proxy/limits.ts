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
 * `maxConnections` is enforced by net.Server as it accepts: a socket handed to the server by code
 * (`server.emit('connection', socket)`, as the one-port sniffer in `sniff.ts` does) is not counted,
 * so a listener wired through the sniffer must cap on the sniffer's own server.
 *
 * Node 24 rejects a head with more fields than `maxHeadersCount` (`HPE_HEADER_OVERFLOW`); older
 * versions silently dropped the extra fields. The knob is set one above the limit and the handler
 * checks the count itself, so the answer is 431 and nothing is forwarded either way.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { ListenerLimits } from '../config/index.js';
import { badRequest } from '../core/errors.js';
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
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket as EdgeSocket, listener, events));
}

/**
 * Marks a request the listener routed, so that a malformed *body* (a bad chunk, after its head was
 * routed) becomes its answer: one property, no closure, per request. When the parser fails in such
 * a body (`answerClientError`), and the request's answer has not begun, the request is flagged
 * (`malformedBody`), its body stream errors — the engines abort the upstream request, so the
 * upstream never gets it complete — and the listener answers it 400, closing (lingering) the
 * connection.
 */
export function routed(req: http.IncomingMessage, res: http.ServerResponse): void {
  (req as Incoming)[ROUTED] = res;
}

/** Whether the request's body turned out malformed (the listener then answers 400). */
export function malformedBody(req: http.IncomingMessage): boolean {
  return (req as Incoming)[MALFORMED] === true;
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

const ANSWERED = Symbol('pilotfish.clientErrorAnswered');

/** The response of a request the listener routed (set by `routed`), and the malformed-body flag. */
const ROUTED = Symbol('pilotfish.routedResponse');
const MALFORMED = Symbol('pilotfish.malformedBody');
type Incoming = http.IncomingMessage & { [ROUTED]?: http.ServerResponse; [MALFORMED]?: true };
type EdgeSocket = Duplex & {
  [ANSWERED]?: true;
  _httpMessage?: (NodeJS.EventEmitter & { closed?: boolean }) | null;
  /** node:http's parser; `incoming` is the request it is reading (or last read). */
  parser?: { incoming?: Incoming | null } | null;
};

/**
 * node:http's `clientError`: the head could not be parsed, was over the limits, or did not arrive in
 * time. Pipelined requests that came complete before the bad one are still being answered: the
 * rejection waits until their answers are written, so each gets its own answer, in order, and the
 * rejection is the last thing on the connection, which then closes. (node:http's own handler writes
 * its 400 at once when the current answer has not started, ahead of it: the client would take the
 * 400 for the earlier request's answer.) node:http may report the same broken connection more than
 * once (each further chunk fails to parse again): it is answered once.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: EdgeSocket, listener: ListenerName, events: ProxyEvents): void {
  if (socket[ANSWERED]) return;
  socket[ANSWERED] = true;
  // The client reset the connection, or closed it in the middle of a request: it is gone, there is
  // nobody to answer.
  if (err.code === 'ECONNRESET' || err.code === 'HPE_INVALID_EOF_STATE' || !socket.writable) {
    socket.destroy();
    return;
  }
  const reason = rejectReason(err);
  events.edgeRejected(listener, reason);
  const incoming = socket.parser?.incoming;
  if (incoming && !incoming.complete) {
    // The error is in the body of a request already routed: that request's answer is the 400, and
    // the listener gives it (the body stream errors, so nothing incomplete goes on upstream); if its
    // answer has begun, the connection closes once it and any before it are written.
    const res = incoming[ROUTED];
    if (res && !res.headersSent) {
      incoming[MALFORMED] = true;
      lingerAfterAnswer(socket);
      incoming.emit('error', badRequest(`malformed request body (${err.code ?? err.message})`));
      return;
    }
    afterAnswers(socket, () => lingeringClose(socket));
    return;
  }
  afterAnswers(socket, () => {
    if (!socket.writable) { socket.destroy(); return; }
    socket.write(rejectionBytes(reason));
    lingeringClose(socket);
  });
}

/** How long a closing connection keeps reading (and dropping) what the client still sends. */
const LINGER_MS = 2000;

/**
 * Closes our side of a connection the client may still be writing to (a rejected request's body, a
 * pipeline behind it): send FIN, keep reading and dropping whatever still comes, and close for good
 * when the client closes its side or after `LINGER_MS` — Apache's lingering close, Envoy's delayed
 * close. Closing at once would make the kernel answer the client's next bytes with a reset, and a
 * reset makes the client's kernel drop data it had received but the client had not read yet: the
 * very answer that explains why the connection closes.
 */
export function lingeringClose(socket: Duplex): void {
  if (socket.destroyed) return;
  socket.once('end', () => socket.destroy());
  socket.end();
  socket.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/**
 * Makes node:http's own close after a `Connection: close` answer (`socket.destroySoon()`, which
 * destroys as soon as the answer is flushed) a lingering close, for answers to a client that may
 * still be sending: a rejected request with a body, a pipeline behind it.
 */
export function lingerAfterAnswer(socket: Duplex): void {
  (socket as Duplex & { destroySoon?: () => void }).destroySoon = () => lingeringClose(socket);
}

/** Runs `then` once no answer of an earlier request on the connection is left to write. */
function afterAnswers(socket: EdgeSocket, then: () => void): void {
  const current = socket._httpMessage;
  if (!current || socket.destroyed) { then(); return; }
  if (current.closed) { setImmediate(afterAnswers, socket, then); return; }
  // 'close' comes once an answer is written or its connection is gone; node:http attaches the next
  // queued answer (a later pipelined request's) after it, hence the look again a tick later.
  current.once('close', () => setImmediate(afterAnswers, socket, then));
}
