/**
 * Request bodies for retries (SPEC §5): up to 1 MiB is buffered so every try resends it whole; a
 * larger body is streamed once — the bytes read so far, then the rest — and that request is not
 * retried (the retry layer reports it: never silently).
 */
import { PassThrough, Readable } from 'node:stream';
import type { ProxyRequest } from '../core/context.js';
import { bodiless } from '../proxy/engine.js';

export const RETRY_BUFFER_LIMIT = 1024 * 1024;

/** The request carries a body by its framing headers (the engines' rule, negated). */
export function hasBody(req: ProxyRequest): boolean {
  return !bodiless(req);
}

/** The overload monitor as body buffering sees it (resilience's `OverloadMonitor`). */
export interface MemoryPressure {
  readonly shedding: boolean;
  /** Whether `bytes` more may be buffered; false while shedding or when they would start it. */
  hold(bytes: number): boolean;
}

/**
 * Reads the body into `req.body`, or past `limit` sets `req.bodyStream`. Resolves when decided.
 * Under memory pressure (SPEC §5 "Limits and overload") a body being buffered switches to
 * streaming at its next chunk: it then flows with back-pressure instead of sitting in memory, and
 * its request is not retried — so a flood of large bodies admitted just before shedding began
 * cannot keep growing the process.
 */
export function bufferBody(req: ProxyRequest, limit = RETRY_BUFFER_LIMIT, pressure?: MemoryPressure): Promise<void> {
  const src = req.source;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size <= limit && (pressure === undefined || pressure.hold(chunk.length))) return;
      cleanup();
      src.pause();
      const stream = Readable.from(replayThenRest(chunks, src));
      // A client that leaves mid-body errors the stream; a consumer that only pipes it (http-proxy-3
      // does) adds no listener, and an unhandled 'error' would end the process.
      stream.on('error', noop);
      req.bodyStream = stream;
      resolve();
    };
    const onEnd = (): void => { cleanup(); req.body = Buffer.concat(chunks, size); resolve(); };
    const onError = (err: Error): void => { cleanup(); reject(err); };
    const cleanup = (): void => { src.off('data', onData); src.off('end', onEnd); src.off('error', onError); };
    src.on('data', onData);
    src.on('end', onEnd);
    src.on('error', onError);
  });
}

async function* replayThenRest(head: Buffer[], rest: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield* head;
  yield* rest;
}

function noop(): void {}

/**
 * A body recorded as it streams (gRPC, SPEC §11): the first try sends it as it arrives — a
 * streaming call cannot wait for its end, the client may be waiting for answers first — while up
 * to `limit` bytes are kept. Once the client has sent all of it, within the limit, `replay()` gives
 * the whole body for a retry (a unary call's single message is complete by the time its answer
 * comes); else the request is not replayable.
 */
export class RecordedBody extends PassThrough {
  private chunks: Buffer[] | undefined = [];
  private size = 0;
  private ended = false;
  private copy: BodyCopy | undefined;

  constructor(src: Readable, private readonly limit = RETRY_BUFFER_LIMIT, private readonly pressure?: MemoryPressure) {
    super();
    this.on('error', noop); // as bufferBody's stream: a consumer that only pipes adds no listener
    src.on('error', (err) => this.destroy(err));
    src.pipe(this);
  }

  /**
   * A live copy of the body for a mirrored call (mirror.ts): every chunk is also written to the
   * copy as it passes — the same buffers, never waiting for the copy's reader, so the primary is
   * never slowed — up to `limit` bytes in all; past it the copy is destroyed (`truncated`). It ends
   * with the body and is destroyed with it.
   */
  mirror(limit = RETRY_BUFFER_LIMIT): BodyCopy {
    const copy = (this.copy = new BodyCopy(limit));
    copy.on('error', noop);
    return copy;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    if (this.copy !== undefined && !this.copy.carry(chunk)) this.copy = undefined;
    if (this.chunks !== undefined) {
      this.size += chunk.length;
      // Under memory pressure the copy is given up (the call streams on, not replayable).
      if (this.size <= this.limit && (this.pressure === undefined || this.pressure.hold(chunk.length))) this.chunks.push(chunk);
      else this.chunks = undefined;
    }
    cb(null, chunk);
  }

  // Every chunk the client sent has passed through (whether or not the upstream has read it all).
  override _flush(cb: () => void): void {
    this.ended = true;
    this.copy?.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.copy !== undefined && !this.copy.writableEnded) this.copy.destroy(err ?? undefined);
    super._destroy(err, cb);
  }

  /** The whole body when it was all sent within the limit, else undefined. */
  replay(): Buffer | undefined {
    return this.ended && this.chunks !== undefined ? Buffer.concat(this.chunks, this.size) : undefined;
  }
}

/** The mirrored copy of a recorded body (`RecordedBody.mirror`). */
export class BodyCopy extends PassThrough {
  /** The body outgrew the limit: the copy was cut off (the mirrored call is counted `dropped`). */
  truncated = false;
  private size = 0;

  constructor(private readonly limit: number) {
    super();
  }

  /** Writes `chunk` unless that passes the limit (then cut off): false once the copy is done. */
  carry(chunk: Buffer): boolean {
    if (this.destroyed) return false;
    this.size += chunk.length;
    if (this.size > this.limit) {
      this.truncated = true;
      this.destroy(new Error(`mirrored body over ${this.limit} bytes: the copy is cut off`));
      return false;
    }
    this.write(chunk); // its return ignored: the copy holds at most `limit` bytes
    return true;
  }
}
