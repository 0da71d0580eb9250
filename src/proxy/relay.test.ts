/**
 * `relay` over real node streams (no sockets: what is under test is the pump between two streams):
 * back-pressure — a destination that says stop holds the source until it drains, so no more than a
 * window's worth waits between them — every byte passed on in order and the end with it; a source
 * that fails is heard by `failed` before both streams are destroyed; a destination that closes
 * before it has finished is a premature close that destroys the source.
 */
import { once } from 'node:events';
import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { relay } from './relay.js';

/** A destination that takes one chunk per `release()` (its buffer: 4 bytes), recording what it got. */
function slowSink(): { dst: Writable; got: Buffer[]; release: () => void } {
  const got: Buffer[] = [];
  const waiting: (() => void)[] = [];
  const dst = new Writable({
    highWaterMark: 4,
    write(chunk: Buffer, _enc, cb) { got.push(chunk); waiting.push(cb); },
  });
  return { dst, got, release: () => { for (const cb of waiting.splice(0)) cb(); } };
}

function outcome(): { done: (err: Error | undefined) => void; result: Promise<Error | undefined> } {
  let done!: (err: Error | undefined) => void;
  const result = new Promise<Error | undefined>((resolve) => { done = resolve; });
  return { done, result };
}

describe('relay', () => {
  it('holds the source while the destination is full, then passes every byte on and the end', async () => {
    const src = new PassThrough({ highWaterMark: 8 });
    const { dst, got, release } = slowSink();
    const { done, result } = outcome();
    relay(src, dst, done);
    let accepted = 0;
    // The producer writes until the source says stop: with the destination not draining, that is
    // a bounded amount (the two streams' buffers), not all 200 chunks.
    while (accepted < 200) {
      const more = src.write(Buffer.from(String(accepted % 10))); // taken even when it says stop
      accepted++;
      if (!more) break;
    }
    await new Promise((r) => setImmediate(r));
    expect(accepted).toBeLessThan(40);
    expect(src.isPaused() || src.readableLength > 0).toBe(true);
    // Then it drains: the rest goes through in order, and the source's end ends the destination.
    const sent: string[] = [];
    for (let i = 0; i < accepted; i++) sent.push(String(i % 10));
    const drain = setInterval(release, 1);
    for (let i = accepted; i < 200; i++) {
      const chunk = String(i % 10);
      sent.push(chunk);
      if (!src.write(chunk)) await once(src, 'drain');
    }
    src.end();
    expect(await result).toBeUndefined();
    clearInterval(drain);
    expect(Buffer.concat(got).toString()).toBe(sent.join(''));
    expect(dst.writableFinished).toBe(true);
  });

  it('a source already at its end ends the destination', async () => {
    const src = Readable.from([]);
    src.resume();
    await once(src, 'end');
    const { dst } = slowSink();
    const { done, result } = outcome();
    relay(src, dst, done);
    expect(await result).toBeUndefined();
    expect(dst.writableFinished).toBe(true);
  });

  it('a source that fails: failed() is heard first, then both streams are destroyed', async () => {
    const src = new PassThrough();
    const { dst } = slowSink();
    const { done, result } = outcome();
    const order: string[] = [];
    relay(src, dst, (err) => { order.push('done'); done(err); }, () => { order.push(dst.destroyed ? 'failed after destroy' : 'failed'); });
    src.write('x');
    src.destroy(new Error('upstream reset'));
    expect((await result)?.message).toBe('upstream reset');
    expect(order).toEqual(['failed', 'done']);
    expect(dst.destroyed).toBe(true);
  });

  it('a destination that closes before it finished: a premature close, the source destroyed', async () => {
    const src = new PassThrough();
    const { dst } = slowSink();
    const { done, result } = outcome();
    let failed = false;
    relay(src, dst, done, () => { failed = true; });
    src.write('partial');
    dst.destroy();
    expect((await result as NodeJS.ErrnoException | undefined)?.code).toBe('ERR_STREAM_PREMATURE_CLOSE');
    expect(src.destroyed).toBe(true);
    expect(failed).toBe(false);
  });
});
