/**
 * Streams an upstream body to the client with the guarantees `stream.pipeline` gives for two streams
 * — back-pressure (a slow client pauses the upstream), an error on either side destroys the other,
 * a client that leaves destroys the upstream body, `done` called exactly once with the error — at a
 * fraction of the cost. Measured here (bench/ CPU profile, 20,000 requests): `stream.pipeline` spent
 * ~30 µs per response, most of it building the `DOMException` (with a stack trace) that its internal
 * AbortController raises on every completion. Piping is not "bare" here: every error path is handled.
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

export function relay(src: Readable, dst: ServerResponse, done: (err: Error | undefined) => void): void {
  let settled = false;
  const finish = (err: Error | undefined): void => {
    if (settled) return;
    settled = true;
    // The listeners stay: both streams serve this one response, and a late event finds `settled`.
    if (err) {
      src.unpipe(dst);
      src.destroy();
      dst.destroy();
    }
    done(err);
  };
  const onSrcError = (err: Error): void => finish(err);
  // 'finish': every byte was handed to the socket; 'close' before that: the client went away.
  const onFinish = (): void => finish(undefined);
  const onDstClose = (): void => finish(dst.writableFinished ? undefined : prematureClose());
  src.on('error', onSrcError);
  dst.on('finish', onFinish);
  dst.on('close', onDstClose);
  src.pipe(dst);
}

function prematureClose(): Error {
  const err = new Error('client closed the connection before the response completed') as NodeJS.ErrnoException;
  err.code = 'ERR_STREAM_PREMATURE_CLOSE';
  return err;
}
