/**
 * The `ProxyRequest` of the HTTP/2 edge: one node:http2 server stream seen through the edge-neutral
 * interface (core/context.ts). The body is the stream's readable side (HTTP/2 flow control paces the
 * client: a slow upstream lets the stream's window fill), the peer is the session's socket, and the
 * downstream's close is the stream's 'close' — which comes once, when the exchange is over or the
 * client reset the stream.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { IncomingHttpHeaders as Http2Headers, ServerHttp2Stream } from 'node:http2';
import { Readable, Transform, type Writable } from 'node:stream';
import type { Peer, ProxyRequest } from '../core/context.js';
import { receivedFields } from './h2-fields.js';

export class Http2Request implements ProxyRequest {
  body: Buffer | undefined = undefined;
  bodyStream: Readable | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  readonly http1 = undefined;
  readonly protocol = 'http2' as const;
  private body$: Readable | undefined;
  /** Body bytes counted on the stream itself, when it was piped straight upstream (`pipeBody`). */
  private piped = -1;
  private cancelPiped: (() => void) | undefined;
  /** Where `pipeBody` writes the body: the upstream stream of the latest try. */
  private dst: Writable | undefined;

  constructor(
    readonly stream: ServerHttp2Stream,
    readonly method: string,
    public host: string,
    public path: string,
    readonly headers: IncomingHttpHeaders,
    /** The session's peer (the edge reads it once per session). */
    readonly peer: Peer,
  ) {}

  /**
   * The request body as a readable of its own, piped from the stream (made on first use): an engine
   * may destroy the body it sent (undici does once it is written), and destroying the server stream
   * itself would also end the response not yet written. The pipe keeps HTTP/2 flow control: a body
   * not read leaves the stream paused and the client's window closed.
   */
  get source(): Readable {
    if (this.body$ !== undefined) return this.body$;
    if (this.piped >= 0) return (this.body$ = Readable.from([])); // sent already, straight upstream
    const s = this.stream;
    if (s.endAfterHeaders) return (this.body$ = Readable.from([]));
    const body = (this.body$ = new CountedBody());
    body.on('error', noop);
    s.pipe(body);
    // The client reset the stream mid-body: the body's reader must not wait for an end that never comes.
    s.once('close', () => { if (!body.writableEnded) body.destroy(aborted()); });
    return body;
  }

  /**
   * The HTTP/2 engine's way (its upstream stream never destroys what it sends): the client's stream
   * written straight into `dst` by one 'data' listener that also counts the bytes — no pipe stream
   * between (per call a Transform: a Readable and a Writable state, a tick per chunk), nor a pipe
   * (seven listeners on the two streams): a write that says stop pauses the client's stream (its
   * flow-control window closes) until `dst`'s 'drain', and its end ends `dst`. A client that resets
   * the stream before the end of its body: `cancel`. A replay's stream takes the rest of the body
   * (a stream that was closed takes no more). False once the body was taken as `source` (a layer
   * buffers or records it): the caller pipes that.
   */
  pipeBody(dst: Writable, cancel: () => void): boolean {
    if (this.body$ !== undefined) return false;
    const s = this.stream;
    this.cancelPiped = cancel;
    this.dst = dst;
    if (this.piped < 0) {
      this.piped = 0;
      s.on('data', (chunk: Buffer) => {
        this.piped += chunk.length;
        if (!this.dst!.write(chunk)) s.pause();
      });
      s.on('end', () => this.dst!.end());
      // 'close' comes once: `on`, not `once` (which wraps the listener).
      s.on('close', () => { if (!s.readableEnded) this.cancelPiped!(); });
    }
    dst.on('drain', () => { if (this.dst === dst) s.resume(); });
    if (s.readableEnded) dst.end();
    else if (dst.writableNeedDrain) s.pause();
    else if (s.readableFlowing !== true) s.resume();
    return true;
  }

  /** Body bytes (DATA payload) read from the client so far: the access log's `bytesIn`. */
  get bytesIn(): number {
    return (this.body$ instanceof CountedBody ? this.body$.bytes : 0) + Math.max(0, this.piped);
  }

  get downstreamGone(): boolean {
    const s = this.stream;
    return s.destroyed && !s.writableFinished;
  }

  onDownstreamClose(fn: () => void): void { this.stream.on('close', fn); }
  offDownstreamClose(fn: () => void): void { this.stream.off('close', fn); }
}

/**
 * The request headers an HTTP/2 stream carries, as the edge-neutral request holds them: without
 * the pseudo-headers (`:method`, `:path`, … — the request's own fields) and the connection-specific
 * ones HTTP/2 forbids anyway (`te` stays when it is `trailers`: gRPC needs it), with `host` set from `:authority` so the route stack, the header
 * matchers and an HTTP/1.1 upstream see what an HTTP/1.1 client would have sent. Read from the
 * stream's flat list (`raw`, the 'stream' event's fourth argument) when it has one and no name
 * repeats (`receivedFields`), else copied from node:http2's object.
 */
export function requestHeaders(h: Http2Headers, authority: string, raw?: readonly string[]): IncomingHttpHeaders {
  const fields = raw === undefined ? undefined : receivedFields(raw, CONNECTION_SPECIFIC) as IncomingHttpHeaders | undefined;
  // A `te` other than `trailers` goes: the object's way drops it (rare: not worth a case in the loop).
  const out = fields !== undefined && (fields.te === undefined || fields.te === 'trailers') ? fields : copyHeaders(h);
  out.host = authority;
  return out;
}

/** Connection-specific request headers (RFC 9113 §8.2.2) the edge drops; `te` has its own rule. */
const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade']);

function copyHeaders(h: Http2Headers): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const name in h) {
    if (name.charCodeAt(0) === 58 /* : */ || CONNECTION_SPECIFIC.has(name) || (name === 'te' && h.te !== 'trailers')) continue;
    out[name] = h[name] as string | string[];
  }
  return out;
}

/**
 * The body's pipe, counting what passes (node:http2 keeps no per-stream byte count; the pipe was
 * there anyway, so counting costs an addition per chunk).
 */
class CountedBody extends Transform {
  bytes = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

function aborted(): Error {
  const err = new Error('the client reset the stream before the end of its body') as NodeJS.ErrnoException;
  err.code = 'ECONNRESET';
  return err;
}

function noop(): void {}
