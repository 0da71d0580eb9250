/**
 * One direction of a proxied connection: bytes read from `source` pass through the stages of the
 * toxics active on it, in order, and are written to `dest`. Reading is eager (each chunk is stamped
 * with its arrival time, so latency is measured from arrival) but bounded: past a high-water mark the
 * source is paused, and writes wait for `drain`, so a slow destination back-pressures the source.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import type { LinkControl, ToxicStage } from './toxics.js';

const HIGH_WATER = 256 * 1024;
const LOW_WATER = 64 * 1024;

type Item = { chunk: Buffer; at: number } | { end: true };

export class ToxicLink {
  private readonly queue: Item[] = [];
  private queued = 0;
  private wake: (() => void) | undefined;

  constructor(
    private readonly source: Socket,
    private readonly dest: Socket,
    /** The stages active now, consulted per chunk: a toxic added mid-connection takes effect at once. */
    private readonly stages: () => ToxicStage[],
    private readonly control: LinkControl,
  ) {
    source.on('data', (chunk: Buffer) => {
      this.queue.push({ chunk, at: performance.now() });
      this.queued += chunk.length;
      if (this.queued > HIGH_WATER) source.pause();
      this.wake?.();
    });
    source.on('end', () => {
      this.queue.push({ end: true });
      this.wake?.();
    });
  }

  /** Runs until the source ends or the connection dies; never rejects. */
  async pump(): Promise<void> {
    try {
      for (;;) {
        const item = this.queue.shift() ?? await this.next();
        if (this.control.signal.aborted) return;
        if ('end' in item) {
          for (const stage of this.stages()) await stage.end?.();
          if (!this.dest.destroyed) this.dest.end();
          return;
        }
        this.queued -= item.chunk.length;
        if (this.queued < LOW_WATER && this.source.isPaused()) this.source.resume();
        await this.deliver(item.chunk, item.at);
      }
    } catch {
      // A sleep aborted because the connection went away, or a write to a destroyed socket: nothing to do.
    }
  }

  private next(): Promise<Item> {
    return new Promise<Item>((resolve) => {
      const abort = (): void => resolve({ end: true });
      this.control.signal.addEventListener('abort', abort, { once: true });
      this.wake = () => {
        const item = this.queue.shift();
        if (!item) return;
        this.wake = undefined;
        this.control.signal.removeEventListener('abort', abort);
        resolve(item);
      };
    });
  }

  private deliver(chunk: Buffer, at: number): Promise<void> {
    const stages = this.stages();
    const run = (i: number, piece: Buffer): Promise<void> => (i < stages.length ? stages[i]!.chunk(piece, at, (p) => run(i + 1, p)) : this.write(piece));
    return run(0, chunk);
  }

  private async write(piece: Buffer): Promise<void> {
    if (this.dest.destroyed || this.dest.writableEnded || piece.length === 0) return;
    if (!this.dest.write(piece)) await once(this.dest, 'drain', { signal: this.control.signal });
  }
}
