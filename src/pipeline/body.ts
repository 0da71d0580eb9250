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

/** Reads the body into `req.body`, or past `limit` sets `req.bodyStream`. Resolves when decided. */
export function bufferBody(req: ProxyRequest, limit = RETRY_BUFFER_LIMIT): Promise<void> {
  const src = req.source;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size <= limit) return;
      cleanup();
      src.pause();
      req.bodyStream = Readable.from(replayThenRest(chunks, src));
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
