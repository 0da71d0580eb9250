/**
 * One attempt as one stream on a pooled HTTP/2 session (http2-pool.ts), with the contract every
 * engine keeps (attempt-call.ts): our own timer, a client that leaves cancels the stream
 * (RST_STREAM CANCEL), errors classified UF / UC / UT / DC, one replay of an idempotent request on a
 * session that had served and failed before any answer. Besides:
 * - a stream the upstream refused (RST_STREAM REFUSED_STREAM, or past a GOAWAY's last stream) was
 *   provably never processed: it is sent again once on another session, whatever its method;
 * - a trailers-only answer (END_STREAM on the response headers: a gRPC error) resolves with an
 *   empty body, so the edge answers it trailers-only too (LIBRARIES.md: relaying it as a body turns
 *   every gRPC error into 13 "Call ended without gRPC status");
 * - otherwise the body is the stream itself: HTTP/2 flow control paces the upstream by what the
 *   client reads, and the upstream's trailers ride on it (`TRAILERS`) to the edge that writes them.
 */
import type { ClientHttp2Stream, IncomingHttpHeaders as Http2Headers } from 'node:http2';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { ProxyRequest } from '../core/context.js';
import { isConnectError } from '../core/errors.js';
import { H2 } from '../core/lazy-builtins.js';
import { PooledCall } from './attempt-call.js';
import { bodiless } from './engine.js';
import { pushField, receivedFields } from './h2-fields.js';
import type { Http2Connections, Session } from './http2-pool.js';
import { trailersArrived } from './trailers.js';

const EMPTY = Buffer.alloc(0);
/** `session.request`'s options, one object each (it copies what it is given). */
const END_STREAM = Object.freeze({ endStream: true });
const OPEN_STREAM = Object.freeze({ endStream: false });
/** node:http2's errors for a stream made on a session that had gone away: nothing was sent. */
const NOT_SENT = new Set(['ERR_HTTP2_INVALID_SESSION', 'ERR_HTTP2_GOAWAY_SESSION']);

/** Request headers HTTP/2 forbids (RFC 9113 §8.2.2), and `host` (it becomes `:authority`). */
const CONNECTION_SPECIFIC = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

export class Http2Call extends PooledCall {
  private stream: ClientHttp2Stream | undefined;
  private session: Session | undefined;
  private answered = false;
  /**
   * The request can go out again whole: no body, or a buffered one. A streamed body is consumed as
   * it is written (a refused or pending stream took some of it), so a second stream would carry
   * only the rest: such a request is not sent again by the engine (the retry layer, which records
   * or buffers the body, may still retry it).
   */
  private resendable = true;

  send(): void {
    const { req, attempt } = this;
    if (req.downstreamGone) { this.onClientGone(); return; }
    const pool = (attempt.connections as Http2Connections).endpoint(attempt.target);
    const session = (this.session = pool.acquire());
    this.reused = session.served > 0;
    const body = req.body ?? req.bodyStream;
    // A body not taken by a layer (buffered, recorded): the client's, piped as it arrives.
    const unread = body === undefined && !bodiless(req);
    this.resendable = !unread && (body === undefined || Buffer.isBuffer(body));
    let stream: ClientHttp2Stream;
    try {
      stream = session.session.request(requestHeaders(req), !unread && (body === undefined || (Buffer.isBuffer(body) && body.length === 0)) ? END_STREAM : OPEN_STREAM);
    } catch (err) {
      // The session closed under us (GOAWAY, destroyed): nothing was sent; once more on another.
      pool.retire(session);
      this.session = undefined;
      if (!this.replay && this.settle()) this.again();
      else this.onError(err as Error);
      return;
    }
    this.stream = stream;
    session.active++;
    req.onDownstreamClose(this.clientGone);
    // Module-level listeners that find the call on the stream: no closure per listener and call,
    // and `on` for 'close' (it comes once; `once` wraps the listener).
    (stream as CallStream)[CALL] = this;
    stream.on('response', onResponse);
    stream.on('trailers', onTrailers);
    stream.on('error', onStreamError);
    stream.on('close', onClose);
    if (Buffer.isBuffer(body)) { if (body.length > 0) stream.end(body); }
    else if (body !== undefined) pipeInto(body, stream);
    else if (unread && (req.pipeBody === undefined || !req.pipeBody(stream, () => stream.close(H2.CANCEL)))) pipeInto(req.source, stream);
  }

  onResponse(stream: ClientHttp2Stream, headers: Http2Headers, flags: number, raw: readonly string[] | undefined): void {
    if (!this.settle()) { stream.close(H2.CANCEL); return; }
    this.answered = true;
    const status = Number(headers[':status']) || 502;
    const out = (raw === undefined ? undefined : receivedFields(raw, undefined) as IncomingHttpHeaders | undefined) ?? responseHeaders(headers);
    // Trailers-only (END_STREAM on the headers): nothing follows; the edge answers it as such.
    if ((flags & H2.FLAG_END_STREAM) !== 0) { this.resolve({ status, headers: out, body: EMPTY }); return; }
    this.resolve({ status, headers: out, body: stream });
  }

  onStreamError(stream: ClientHttp2Stream, err: Error): void {
    if (this.settled) return; // after the answer: the body's consumer sees it
    if ((err as NodeJS.ErrnoException).code === 'ERR_HTTP2_STREAM_CANCEL') {
      // A stream still pending (no id yet: the session was connecting) when its session died:
      // nothing was sent. The session's own error is the cause — a refused or timed-out connect.
      const cause = (err as Error & { cause?: Error }).cause;
      if (cause !== undefined && isConnectError(cause)) { this.onError(cause); return; }
      if (!this.replay && this.resendable) {
        if (this.session) this.session.pool.retire(this.session);
        if (this.settle()) this.again();
        return;
      }
    }
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if ((stream.rstCode === H2.REFUSED_STREAM || NOT_SENT.has(code)) && !this.replay && this.resendable) {
      // Refused (or past GOAWAY), or made on a session already gone: never processed. Send it
      // again once, on another session.
      if (this.session) this.session.pool.retire(this.session);
      if (this.settle()) this.again();
      return;
    }
    this.onError(err);
  }

  /** Closed before any answer and without an error (RST_STREAM NO_ERROR, session gone): a reset. */
  closed(stream: ClientHttp2Stream): void {
    const session = this.session;
    if (session !== undefined) {
      this.session = undefined;
      if (this.answered) session.served++;
      session.pool.release(session);
    }
    if (this.settled) return;
    if (stream.rstCode === H2.REFUSED_STREAM) { this.onStreamError(stream, new Error('stream refused')); return; }
    const err = new Error(`stream closed before the response (code ${stream.rstCode ?? 0})`) as NodeJS.ErrnoException;
    err.code = 'ECONNRESET';
    this.onError(err);
  }

  // --- AttemptCall ---

  protected cancel(): void {
    const stream = this.stream;
    if (stream !== undefined && !stream.closed) stream.close(H2.CANCEL);
  }

  protected again(): void {
    new Http2Call(this.req, this.attempt, true, this.resolve, this.reject).send();
  }
}

const CALL = Symbol('pilotfish.call');
type CallStream = ClientHttp2Stream & { [CALL]: Http2Call | undefined };

// After 'close' (onClose) the stream no longer names its call; nothing of node:http2 comes after it.
function onResponse(this: CallStream, headers: Http2Headers, flags: number, raw?: string[]): void { this[CALL]?.onResponse(this, headers, flags, raw); }
function onTrailers(this: CallStream, trailers: Http2Headers): void { trailersArrived(this, trailers as IncomingHttpHeaders); }
function onStreamError(this: CallStream, err: Error): void { this[CALL]?.onStreamError(this, err); }
/**
 * The stream's last event: the call is done with it, and it lets go of the call. node:http2 keeps a
 * closed stream reachable until a full GC (its native handle's weak reference counts as a root to
 * the scavenger), so whatever the stream still points to survives every scavenge until then and is
 * promoted: the call, its request and context, the request's closures.
 */
function onClose(this: CallStream): void {
  this[CALL]?.closed(this);
  this[CALL] = undefined;
}

/** A body stream into the upstream stream; the body failing (the client left) cancels the stream. */
function pipeInto(src: Readable, stream: ClientHttp2Stream): void {
  src.on('error', () => stream.close(H2.CANCEL));
  src.pipe(stream);
}

/**
 * The request as HTTP/2 headers, a flat list (`[name, value, …]`, which `session.request` takes
 * since Node 24 — an object it copies first): the pseudo-headers, then every header HTTP/2 allows.
 */
function requestHeaders(req: ProxyRequest): string[] {
  const out = [':method', req.method, ':path', req.path, ':authority', req.host, ':scheme', 'http'];
  const h = req.headers;
  for (const name in h) {
    if (CONNECTION_SPECIFIC.has(name) || (name === 'te' && h.te !== 'trailers')) continue;
    pushField(out, name, h[name]);
  }
  return out;
}

/**
 * The response headers without `:status` (the status travels apart; an HTTP/1 edge cannot write
 * pseudo-headers), copied from node:http2's object: when the flat list (the 'response' event's third
 * argument) repeats a name, which `receivedFields` leaves to node:http2's merging.
 */
function responseHeaders(h: Http2Headers): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const name in h) if (name.charCodeAt(0) !== 58 /* : */) out[name] = h[name] as string | string[];
  return out;
}
