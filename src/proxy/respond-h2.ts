/**
 * Writes a `ProxyResponse` to an HTTP/2 client stream (the HTTP/2 edge's `writeResponse`):
 * - an empty body is sent as END_STREAM on the headers — which is what a trailers-only gRPC answer
 *   (the sidecar's own, or an upstream's) must be;
 * - a streamed body goes through `relay` (back-pressure: the client's flow-control window paces the
 *   upstream; the bytes counted by the stream's own `write`), then the upstream's trailers
 *   (`TRAILERS`), or an empty END_STREAM when it had none;
 * - headers HTTP/2 forbids (hop-by-hop, connection-specific, an upstream's pseudo-headers) are
 *   dropped: `respond()` throws on them.
 * The status and `grpc-status` sent are reported through `sent`, for telemetry.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import { Writable } from 'node:stream';
import { addFlag, type ProxyResponse, type RequestContext } from '../core/context.js';
import { grpcStatusOf } from '../core/grpc.js';
import { H2 } from '../core/lazy-builtins.js';
import { pushField } from './h2-fields.js';
import { relay } from './relay.js';
import { sendableTrailers, trailersOf } from './trailers.js';

const FORBIDDEN = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer',
  'host', 'proxy-authenticate', 'proxy-authorization', 'http2-settings',
]);

/** `respond`'s options and an empty trailer section: one object each (node:http2 only reads them). */
const END_STREAM = Object.freeze({ endStream: true });
const WAIT_FOR_TRAILERS = Object.freeze({ waitForTrailers: true });
const NO_TRAILERS = Object.freeze({});

/** What was sent, for the access log and metrics; `done` once the answer is over. */
export interface H2Sent {
  status: number;
  /** The `grpc-status` sent (headers of a trailers-only answer, or trailers); undefined for none. */
  grpcStatus: number | undefined;
  /** Body bytes (DATA payload) written to the stream: the access log's `bytesOut`. */
  bytesOut: number;
  /**
   * Body bytes read from the stream where no `Http2Request` counts them — a WebSocket tunnel's
   * (http2-websocket.ts): the access log's `bytesIn` then.
   */
  bytesIn: number;
  /** The exchange is over (its access log line, metrics): called once the answer is written or failed. */
  done(): void;
}

export function writeH2Response(stream: ServerHttp2Stream, resp: ProxyResponse, ctx: RequestContext, sent: H2Sent): void {
  const body = resp.body;
  if (stream.destroyed || stream.closed) {
    if (!Buffer.isBuffer(body)) body.destroy();
    addFlag(ctx, 'DC');
    sent.done();
    return;
  }
  const headers = responseHeaders(resp.status, resp.headers);
  if (ctx.flags.length > 0) headers.push('x-pilotfish-flags', ctx.flags.join(','));
  sent.status = resp.status;
  try {
    if (Buffer.isBuffer(body)) {
      sent.grpcStatus = grpcStatusOf(resp.headers);
      stream.respond(headers, body.length === 0 ? END_STREAM : undefined);
      if (body.length > 0) stream.end(body);
      sent.bytesOut = body.length;
      sent.done();
      return;
    }
    stream.respond(headers, WAIT_FOR_TRAILERS);
  } catch (err) {
    // A header node:http2 refuses that we did not foresee: the answer cannot be written.
    if (!Buffer.isBuffer(body)) body.destroy();
    stream.close(H2.INTERNAL_ERROR);
    addFlag(ctx, 'UC');
    sent.done();
    return;
  }
  // Node sends empty trailers as an empty DATA frame with END_STREAM: fine when there were none.
  // `on`: 'wantTrailers' comes once, and `once` would wrap the listener.
  stream.on('wantTrailers', () => {
    const trailers = trailersOf(body);
    try { stream.sendTrailers(trailers === undefined ? NO_TRAILERS : sendableTrailers(trailers)); } catch { stream.close(); }
  });
  (stream as CountedStream)[SENT] = sent;
  stream.write = countedWrite;
  relay(body, stream, (err) => {
    if (err) addFlag(ctx, (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE' ? 'DC' : 'UC');
    sent.grpcStatus = grpcStatusOf(trailersOf(body)) ?? grpcStatusOf(resp.headers);
    // Every byte is written: the stream, which outlives its close (http2-call.ts, onClose), lets go of the exchange.
    (stream as unknown as { [SENT]: H2Sent | undefined })[SENT] = undefined;
    sent.done();
  }, () => {
    // The upstream's body failed mid-way (reset, or refused by the parser): RST_STREAM
    // INTERNAL_ERROR before `relay` destroys the stream, which would close it NO_ERROR — RFC 9113
    // §8.1's word for an answer that is whole, so the client would take the cut body for all of it.
    if (!stream.closed) stream.close(H2.INTERNAL_ERROR);
  });
}

const SENT = Symbol('pilotfish.sent');
type CountedStream = ServerHttp2Stream & { [SENT]: H2Sent };
const streamWrite = Writable.prototype.write;

/**
 * The stream's `write` while `relay` writes the answer to it, whichever way it writes (a pump, or
 * a direct body's own `write` calls), counting the bytes: node:http2 keeps no per-stream count, and
 * the stream is ours for this answer. One function for every stream (the count is on the stream),
 * with the arguments passed as they came — no closure, rest array or spread per answer and chunk.
 */
function countedWrite(this: CountedStream, chunk: Uint8Array, encoding?: unknown, cb?: unknown): boolean {
  this[SENT].bytesOut += chunk.length;
  return (streamWrite as (chunk: Uint8Array, encoding?: unknown, cb?: unknown) => boolean).call(this, chunk, encoding, cb);
}

/**
 * The answer's head as a flat list (`[name, value, …]`, which `respond` takes since Node 24 — an
 * object it walks into a null-prototype copy first), without the headers HTTP/2 forbids.
 */
function responseHeaders(status: number, h: IncomingHttpHeaders | OutgoingHttpHeaders): string[] {
  const out = [':status', String(status)];
  for (const name in h) {
    if (FORBIDDEN.has(name) || name.charCodeAt(0) === 58 /* : */) continue;
    pushField(out, name, h[name]);
  }
  return out;
}
