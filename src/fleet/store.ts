/**
 * The fleet's policy store in Redis: generations (publish with compare-and-set, the current one, the
 * history) and the sidecars' reports. Every write that must be atomic is one Lua script — the server
 * runs it as one step, so two publishers racing get exactly one winner each round (WATCH/MULTI/EXEC
 * loses updates when two flows share a connection: LIBRARIES.md).
 */
import { randomBytes } from 'node:crypto';
import { fleetKeys, HISTORY_LENGTH, type FleetKeys } from './keys.js';
import type { RedisLink, RedisValue, ScriptCall } from './redis.js';

/** One published policy (SPEC §9): a whole policy text with its number, author, time, message and hash. */
export interface Generation {
  readonly generation: number;
  /** The store's epoch when it was published (see `progress.ts`). */
  readonly epoch: string;
  /** sha256 of `policy`, hex. */
  readonly hash: string;
  /** The policy text exactly as published (YAML or JSON). */
  readonly policy: string;
  /**
   * The document `policy` parses to, written by the publisher that validated it (`publishable`):
   * what a sidecar checks and applies without parsing YAML. Absent from older or hand-written
   * documents, and for a text JSON cannot carry exactly: sidecars then parse `policy`.
   */
  readonly data?: unknown;
  readonly publishedBy: string;
  /** ISO 8601. */
  readonly publishedAt: string;
  readonly message: string;
  /** The generation this one republished (`pilotfish rollback`), else null. */
  readonly rollbackOf: number | null;
}

/** A generation without its policy text and document (history listings, `fleet status`). */
export type GenerationMeta = Omit<Generation, 'policy' | 'data'>;

/** The store's position: what a sidecar compares with what it serves. 0 and no epoch: never published. */
export interface StoreHead {
  readonly generation: number;
  readonly epoch: string | undefined;
}

export type PublishInput = Pick<Generation, 'hash' | 'policy' | 'data' | 'publishedBy' | 'message' | 'rollbackOf'> & {
  /** Compare-and-set: publish only if the store is at exactly this generation (0: empty). */
  readonly expectGeneration?: number | undefined;
};

export type PublishResult =
  | { readonly ok: true; readonly generation: Generation }
  | { readonly ok: false; readonly current: StoreHead };

// GET generation, compare, SET, LPUSH + LTRIM, PUBLISH — one step on the server. The document is
// the client's JSON object with `generation` and `epoch` spliced in front, so the policy text is
// never decoded and re-encoded by Lua. The channel carries the document itself up to ARGV[6] bytes
// (sidecars apply it without reading the store: no round trip per flip), else `<epoch>:<generation>`.
const PUBLISH = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local epoch = redis.call('GET', KEYS[2])
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= cur then return {0, cur, epoch or ''} end
if not epoch then epoch = ARGV[3]; redis.call('SET', KEYS[2], epoch) end
local n = cur + 1
local doc = '{"generation":' .. n .. ',"epoch":"' .. epoch .. '",' .. string.sub(ARGV[2], 2)
redis.call('SET', KEYS[1], n)
redis.call('SET', KEYS[3], doc)
redis.call('LPUSH', KEYS[4], doc)
redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[5]) - 1)
if #doc <= tonumber(ARGV[6]) then redis.call('PUBLISH', ARGV[4], doc) else redis.call('PUBLISH', ARGV[4], epoch .. ':' .. n) end
return {1, n, epoch}
`;

// A report, its membership scored by the server's clock, and the expired members dropped: one step.
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
return now
`;

// The live members (reported within the ttl, by the server's clock) and their reports.
const LIVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[1]), '+inf', 'WITHSCORES')
local out = {now}
for i = 1, #ids, 2 do
  out[#out + 1] = ids[i]
  out[#out + 1] = ids[i + 1]
  out[#out + 1] = redis.call('GET', ARGV[2] .. ids[i]) or ''
end
return out
`;

// How many sidecars reported within the ttl, by the server's clock: one ZCOUNT, however large the reports.
const LIVE_COUNT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[1]), '+inf')
`;

export interface LiveReport<R> {
  readonly id: string;
  /** When it last reported, by the server's clock (ms since the epoch). */
  readonly reportedAt: number;
  readonly report: R;
}

/**
 * The largest document the fleet's channel carries whole (bytes; Lua's `#` counts bytes). A larger
 * one is announced as `<epoch>:<generation>` and read from the store: a pub/sub client's output
 * buffer is bounded (`client-output-buffer-limit pubsub`, 8 MB over 60 s by default), and a burst
 * of large publishes to a slow subscriber must not get it disconnected.
 */
export const PUSHED_DOCUMENT_BYTES = 256 * 1024;

export class FleetStore {
  readonly keys: FleetKeys;
  private readonly publishScript: ScriptCall;
  private readonly heartbeatScript: ScriptCall;
  private readonly liveScript: ScriptCall;
  private readonly liveCountScript: ScriptCall;

  constructor(readonly link: RedisLink, fleet: string) {
    this.keys = fleetKeys(fleet);
    this.publishScript = link.script(PUBLISH);
    this.heartbeatScript = link.script(HEARTBEAT);
    this.liveScript = link.script(LIVE);
    this.liveCountScript = link.script(LIVE_COUNT);
  }

  get fleet(): string { return this.keys.fleet; }

  /** Publishes the next generation, or reports where the store is when `expectGeneration` does not match. */
  async publish(input: PublishInput): Promise<PublishResult> {
    const body = JSON.stringify({
      hash: input.hash, publishedBy: input.publishedBy, publishedAt: new Date().toISOString(),
      message: input.message, rollbackOf: input.rollbackOf, policy: input.policy, ...(input.data === undefined ? {} : { data: input.data }),
    });
    const k = this.keys;
    const r = await this.publishScript([k.generation, k.epoch, k.current, k.history], [
      input.expectGeneration === undefined ? '' : String(input.expectGeneration), body, randomBytes(8).toString('hex'), k.events, HISTORY_LENGTH, PUSHED_DOCUMENT_BYTES,
    ]) as [number, number, string];
    if (r[0] !== 1) return { ok: false, current: { generation: Number(r[1]), epoch: r[2] || undefined } };
    return { ok: true, generation: { ...(JSON.parse(body) as Omit<Generation, 'generation' | 'epoch'>), generation: Number(r[1]), epoch: r[2] } };
  }

  /** Where the store is: two small values, cheap enough for a sidecar's safety poll. */
  async head(): Promise<StoreHead> {
    const [generation, epoch] = await this.link.command('MGET', this.keys.generation, this.keys.epoch) as [string | null, string | null];
    return { generation: generation === null ? 0 : Number(generation), epoch: epoch ?? undefined };
  }

  /** The current generation, or undefined for a store nothing was published to (or an emptied one). */
  async current(): Promise<Generation | undefined> {
    const doc = await this.link.command('GET', this.keys.current);
    return typeof doc === 'string' ? parseGeneration(doc) : undefined;
  }

  /** The kept generations, newest first. */
  async history(): Promise<Generation[]> {
    const docs = await this.link.command('LRANGE', this.keys.history, 0, -1) as string[];
    return docs.map(parseGeneration);
  }

  /** Records a sidecar's report for `ttlMs` (it must report again before then to stay live). */
  async heartbeat(id: string, report: unknown, ttlMs: number): Promise<void> {
    await this.heartbeatScript([this.keys.sidecars, this.keys.report(id)], [id, JSON.stringify(report), Math.max(1, Math.round(ttlMs))]);
  }

  /** Removes a sidecar's report at once (a clean shutdown). */
  async leave(id: string): Promise<void> {
    await this.link.command('ZREM', this.keys.sidecars, id);
    await this.link.command('DEL', this.keys.report(id));
  }

  /** How many sidecars reported within `ttlMs`, by the server's clock (fleet-wide rate limits' N). */
  async liveCount(ttlMs: number): Promise<number> {
    return Number(await this.liveCountScript([this.keys.sidecars], [Math.round(ttlMs)]));
  }

  /** Sidecars that reported within `ttlMs` by the server's clock, with their reports. */
  async live<R>(ttlMs: number): Promise<{ now: number; sidecars: LiveReport<R>[] }> {
    const r = await this.liveScript([this.keys.sidecars], [Math.round(ttlMs), this.keys.reportPrefix]) as RedisValue[];
    const sidecars: LiveReport<R>[] = [];
    for (let i = 1; i + 2 < r.length + 1; i += 3) {
      const text = String(r[i + 2]);
      if (text === '') continue; // the report expired between the two reads
      sidecars.push({ id: String(r[i]), reportedAt: Number(r[i + 1]), report: JSON.parse(text) as R });
    }
    return { now: Number(r[0]), sidecars };
  }
}

/** A stored (or pushed) document, checked: anything can be written into Redis around `publish`. */
export function parseGeneration(doc: string): Generation {
  let g: Partial<Record<keyof Generation, unknown>>;
  try {
    g = JSON.parse(doc) as typeof g;
  } catch (err) {
    throw new InvalidGenerationError(`the stored generation is not JSON: ${(err as Error).message}`);
  }
  if (g === null || typeof g !== 'object') throw new InvalidGenerationError('the stored generation is not a JSON object');
  const strings = ['epoch', 'hash', 'policy', 'publishedBy', 'publishedAt', 'message'] as const;
  const bad: string[] = [...(Number.isSafeInteger(g.generation) ? [] : ['generation']), ...strings.filter((k) => typeof g[k] !== 'string')];
  if (bad.length > 0) throw new InvalidGenerationError(`the stored generation lacks ${bad.join(', ')}`, Number.isSafeInteger(g.generation) ? g.generation as number : undefined);
  return { ...(g as Generation), rollbackOf: typeof g.rollbackOf === 'number' ? g.rollbackOf : null };
}

export class InvalidGenerationError extends Error {
  override readonly name = 'InvalidGenerationError';
  constructor(message: string, readonly generation?: number) { super(message); }
}

export function metaOf(g: Generation): GenerationMeta {
  const { policy: _policy, data: _data, ...meta } = g;
  return meta;
}
