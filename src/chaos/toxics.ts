/**
 * Toxics in the style of Toxiproxy: each is a stage one direction of a proxied connection passes its
 * bytes through. A stage is made per connection (its counters and timers are that connection's), gets
 * each chunk with the time it arrived, and decides what reaches the other side and when: late
 * (`latency`), slowly (`bandwidth`), in bits (`slicer`), partly (`limit_data`), not at all (`timeout`),
 * or as a reset (`reset_peer`); `slow_close` holds the FIN back.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export type ToxicSpec =
  | { readonly type: 'latency'; readonly latency: number; readonly jitter: number }
  /** `rate` in KB/s (1 KB = 1024 bytes). */
  | { readonly type: 'bandwidth'; readonly rate: number }
  | { readonly type: 'slow_close'; readonly delay: number }
  /** Data stops flowing; the connection is closed after `timeout` ms (0: held until the toxic goes). */
  | { readonly type: 'timeout'; readonly timeout: number }
  /** The connection is reset `timeout` ms after data arrives. */
  | { readonly type: 'reset_peer'; readonly timeout: number }
  | { readonly type: 'slicer'; readonly averageSize: number; readonly sizeVariation: number; readonly delay: number }
  | { readonly type: 'limit_data'; readonly bytes: number };

export type ToxicStream = 'upstream' | 'downstream';

export interface ToxicDefinition {
  readonly name: string;
  /** `upstream`: client → server bytes; `downstream`: server → client. */
  readonly stream: ToxicStream;
  /** Chance (percent) that the toxic applies to a given connection. */
  readonly toxicity: number;
  readonly spec: ToxicSpec;
}

/** What a stage may do to the connection it sits on. */
export interface LinkControl {
  /** Aborted when the connection is gone: pending sleeps end with it. */
  readonly signal: AbortSignal;
  /** TCP RST to both peers. */
  reset(): void;
  /** FIN to both peers, after what was already written. */
  close(): void;
}

export type Next = (chunk: Buffer) => Promise<void>;

export interface ToxicStage {
  chunk(chunk: Buffer, arrivedAt: number, next: Next): Promise<void>;
  /** The source sent FIN; resolves when it may go on. */
  end?(): Promise<void>;
  attach?(): void;
  detach?(): void;
}

export function createStage(spec: ToxicSpec, link: LinkControl, random: () => number = Math.random): ToxicStage {
  const wait = (ms: number): Promise<void> => (ms > 0 ? sleep(ms, undefined, { signal: link.signal }) : Promise.resolve());
  switch (spec.type) {
    case 'latency':
      return {
        async chunk(chunk, arrivedAt, next) {
          const delay = spec.latency + (spec.jitter > 0 ? (random() * 2 - 1) * spec.jitter : 0);
          // Measured from arrival, as Toxiproxy does: a burst is delayed, not serialised.
          await wait(arrivedAt + delay - performance.now());
          await next(chunk);
        },
      };
    case 'bandwidth': return bandwidth(spec.rate, wait);
    case 'slow_close':
      return { chunk: (chunk, _at, next) => next(chunk), end: () => wait(spec.delay) };
    case 'timeout': return blackhole(spec.timeout, link);
    case 'reset_peer':
      return {
        async chunk() {
          await wait(spec.timeout);
          link.reset();
        },
      };
    case 'slicer':
      return {
        async chunk(chunk, _at, next) {
          for (let offset = 0; offset < chunk.length;) {
            const variation = spec.sizeVariation > 0 ? Math.round((random() * 2 - 1) * spec.sizeVariation) : 0;
            const size = Math.max(1, spec.averageSize + variation);
            await next(chunk.subarray(offset, offset + size));
            offset += size;
            if (offset < chunk.length) await wait(spec.delay);
          }
        },
      };
    case 'limit_data': return limitData(spec.bytes, link);
  }
}

function bandwidth(rateKBps: number, wait: (ms: number) => Promise<void>): ToxicStage {
  const bytesPerMs = (rateKBps * 1024) / 1000;
  // Pieces of at most 100 ms worth, so a large write trickles out instead of arriving in one late lump.
  const piece = Math.max(1, Math.floor(bytesPerMs * 100));
  let freeAt = 0;
  return {
    async chunk(chunk, _at, next) {
      for (let offset = 0; offset < chunk.length; offset += piece) {
        const part = chunk.subarray(offset, offset + piece);
        freeAt = Math.max(freeAt, performance.now()) + part.length / bytesPerMs;
        await wait(freeAt - performance.now());
        await next(part);
      }
    },
  };
}

function blackhole(timeoutMs: number, link: LinkControl): ToxicStage {
  let timer: NodeJS.Timeout | undefined;
  let release: (() => void) | undefined;
  return {
    chunk: () => Promise.resolve(), // dropped, as Toxiproxy's timeout toxic does
    // The FIN is held too, until the toxic goes or the connection does.
    end: () => new Promise<void>((resolve) => {
      release = resolve;
      link.signal.addEventListener('abort', () => resolve(), { once: true });
    }),
    attach() {
      if (timeoutMs > 0) timer = setTimeout(() => link.close(), timeoutMs);
    },
    detach() {
      clearTimeout(timer);
      release?.();
    },
  };
}

function limitData(limit: number, link: LinkControl): ToxicStage {
  let sent = 0;
  return {
    async chunk(chunk, _at, next) {
      const remaining = limit - sent;
      if (chunk.length < remaining) {
        sent += chunk.length;
        await next(chunk);
        return;
      }
      if (remaining > 0) await next(chunk.subarray(0, remaining));
      sent = limit;
      link.close();
    },
    attach() {
      if (limit === 0) link.close();
    },
  };
}
