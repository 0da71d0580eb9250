/**
 * Request bodies for retries (SPEC §5): up to 1 MiB is buffered so every try resends it whole; a
 * larger body is streamed once — the bytes read so far, then the rest — and that request is not
 * retried (the retry layer reports it: never silently).
 */
import { Readable } from 'node:stream';
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
