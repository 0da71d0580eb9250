/**
 * The sampling decision, made before any OpenTelemetry object exists, so a request the sampler drops
 * costs what propagation needs and nothing more: its `traceparent` read, a trace id (the caller's, or
 * a new one), one small object that writes the next hop's `traceparent` with the sampled flag clear.
 * Only a sampled request records spans (otel-tracing.ts).
 *
 * The decision is the SDK's own for the samplers Pilotfish configures (`OTEL_TRACES_SAMPLER`):
 * `always_on`, `always_off`, `traceidratio` on the trace id (the SDK's `TraceIdRatioBasedSampler`
 * arithmetic), and their `parentbased_*` forms, which follow the caller's sampled flag when a valid
 * `traceparent` came with the request. It is the only decision: a sampled request's spans carry the
 * trace id it was made on.
 */
import type { ClientSpan, HeaderCarrier, ServerSpan } from './tracing.js';
import type { SamplerConfig } from './tracing-config.js';

/** A valid W3C `traceparent` (version 00 semantics; later versions read as 00, as the spec says). */
const TRACEPARENT = /^\s?((?!ff)[\da-f]{2})-((?![0]{32})[\da-f]{32})-((?![0]{16})[\da-f]{16})-([\da-f]{2})(-.*)?\s?$/;

export interface RemoteParent {
  readonly traceId: string;
  /** The caller's span: the parent of the request's SERVER span. */
  readonly spanId: string;
  readonly sampled: boolean;
}

export function parseTraceparent(value: string | string[] | undefined): RemoteParent | undefined {
  if (typeof value !== 'string') return undefined;
  const m = TRACEPARENT.exec(value);
  if (m === null || (m[1] === '00' && m[5] !== undefined)) return undefined;
  return { traceId: m[2]!, spanId: m[3]!, sampled: (parseInt(m[4]!, 16) & 1) === 1 };
}

export class HeadSampler {
  private readonly bound: number;

  constructor(private readonly config: SamplerConfig) {
    // TraceIdRatioBasedSampler: sampled when the id's 32-bit XOR fold is below ratio × 2³²−1.
    this.bound = Math.floor(config.ratio * 0xffffffff);
  }

  /**
   * Whether the request is traced; `parent` is the caller's valid `traceparent`, if any. `folded` is
   * the trace id's XOR fold when the caller has it already (`RandomIds.fold` of an id it just made).
   */
  sampled(traceId: string, parent: RemoteParent | undefined, folded?: number): boolean {
    const c = this.config;
    if (parent !== undefined && c.parentBased) return parent.sampled;
    if (c.root === 'always_on') return true;
    if (c.root === 'always_off') return false;
    return (folded ?? fold(traceId)) < this.bound;
  }
}

function fold(traceId: string): number {
  let acc = 0;
  for (let i = 0; i < 32; i += 8) acc ^= parseInt(traceId.slice(i, i + 8), 16);
  return acc >>> 0;
}

/**
 * Random hex ids (W3C: random, not secret), cut from a pool: 64 Math.random words written into one
 * buffer and hex-encoded natively in one call, then each id is a slice of that string — one native
 * call per 16 trace ids (or 32 span ids) instead of one per id: a trace id 76 ns (its fold read back
 * from the buffer) against 135, a span id 27 against 129 (2 M calls in a loop, Node 24.21). A pool is
 * 512 characters, so a slice kept by a recorded span holds that much alive.
 * A new trace id's XOR fold (the ratio sampler's input) is kept, so deciding on it needs no parsing.
 */
export class RandomIds {
  private readonly buf = Buffer.allocUnsafe(POOL_BYTES);
  private hex = '';
  /** Bytes of the pool already handed out. */
  private used = POOL_BYTES;
  /** The XOR fold of the last `traceId()`'s four words. */
  fold = 0;

  traceId(): string {
    const off = this.take(16);
    const buf = this.buf;
    this.fold = (buf.readUInt32BE(off) ^ buf.readUInt32BE(off + 4) ^ buf.readUInt32BE(off + 8) ^ buf.readUInt32BE(off + 12)) >>> 0;
    return this.hex.slice(off * 2, off * 2 + 32);
  }

  spanId(): string {
    const off = this.take(8);
    return this.hex.slice(off * 2, off * 2 + 16);
  }

  /** The offset of `bytes` fresh random bytes, refilling the pool when it has fewer left. */
  private take(bytes: number): number {
    if (this.used + bytes > POOL_BYTES) {
      const buf = this.buf;
      for (let off = 0; off < POOL_BYTES; off += 4) buf.writeUInt32BE((Math.random() * 0x100000000) >>> 0, off);
      this.hex = buf.toString('hex');
      this.used = 0;
    }
    const off = this.used;
    this.used += bytes;
    return off;
  }
}

const POOL_BYTES = 256;

const shared = new RandomIds();

/** `words` × 32 random bits as hex (4: a trace id, 2: a span id). */
export function randomHex(words: 2 | 4): string {
  return words === 4 ? shared.traceId() : shared.spanId();
}

/**
 * A request the sampler dropped: its trace id (for the access log) and the `traceparent` of each
 * upstream try. Server and client handle in one object — no span exists to tell them apart. One
 * parent id serves every try of the request: no span of ours will ever be reported under it.
 */
export class UnsampledTrace implements ServerSpan, ClientSpan {
  private parentId = '';
  readonly recording = false;

  constructor(readonly traceId: string) {}

  startClient(): ClientSpan {
    return this;
  }

  inject(headers: HeaderCarrier): void {
    if (this.parentId === '') this.parentId = randomHex(2);
    headers.traceparent = `00-${this.traceId}-${this.parentId}-00`;
  }

  end(): void {}
}
