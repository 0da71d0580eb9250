/**
 * A `Snapshot` is one compiled, deep-frozen policy: the resolved policy, its generation and content
 * hash, and the route table with every route's handler stack built. The sidecar holds exactly one
 * current snapshot behind one reference; a request reads it once on arrival and keeps it to the end.
 */
import type { Direction, Policy } from '../config/index.js';
import type { Handler } from './context.js';
import type { MatchInput, RouteExplanation, TierView } from '../routing/index.js';
import type { FleetLimiterState } from '../ratelimit/index.js';
import type { RetryBudgetView } from '../resilience/index.js';
import type { Authorizer } from '../authz/index.js';

export interface CompiledRoute {
  readonly name: string;
  readonly direction: Direction;
  readonly timeoutMs: number;
  /** The route's stack. It opens with `rescue`, so its promise never rejects: a failure resolves as the sidecar's answer. */
  readonly handler: Handler;
  /** Where an Upgrade (WebSocket) request on this route goes: a tunnel has no retries or layers. */
  upgradeTarget(host: string): URL | undefined;
  /** The destination decision for a request, without sending anything (explain). */
  describeDestination(headers: Readonly<Record<string, string | string[] | undefined>>, sourceIp: string | undefined): DestinationDecision;
  /** The route's rate limit as it stands for a request (explain); absent without `rateLimit`. */
  describeRateLimit?(headers: Readonly<Record<string, string | string[] | undefined>>, sourceIp: string | undefined): RateLimitDecision;
  /** The route's retry budget now, when it retries (explain). */
  retryBudget?(): RetryBudgetView | undefined;
}

/** A route's rate limit for one request, as explain shows it (pipeline/rate-limit.ts). */
export interface RateLimitDecision {
  readonly requests: number;
  /** ms */
  readonly per: number;
  readonly burst: number;
  readonly scope: 'local' | 'fleet';
  /** What the buckets are per: `route`, `source address`, or `header <name>`. */
  readonly bucket: string;
  /** This request's bucket key ('' for requests without the header); null for the route's one bucket. */
  readonly key: string | null;
  /** Requests this key could make at once now. */
  readonly remaining: number;
  /** Keys with a bucket now, of at most `maxKeys`. */
  readonly keys: number;
  readonly maxKeys: number;
  /** Buckets not yet refilled that were forgotten to make room for new keys. */
  readonly evictedLive: number;
  /**
   * `scope: fleet` only: whether the fleet's shared bucket decides (`shared`) or a local one at
   * `requests / N` (`fallback`, and why), N, the lease batch; `remaining` is then the local
   * allowance (shared) or the fallback bucket's count.
   */
  readonly fleet?: FleetLimiterState;
}

export interface DestinationDecision {
  readonly split: ReadonlyArray<{
    upstream: string; subset: string | null; weight: number; endpoints: string[]; eligible: string[];
    /** A locality-aware destination's tiers, nearest first, with each one's share of traffic now. */
    locality?: { self: string | null; tiers: TierView[] };
  }>;
  readonly sticky?: {
    key: string | null; bucket: number | null; destination: string | null; endpoint: string | null; setsCookie: boolean;
    /** The key's locality tier (locality-aware destinations). */
    tier?: string | null;
  };
}

/** What routing sees of a request (host without port, path without query, the parsed JSON body if buffered). */
export type RouteInput = MatchInput;

export interface Snapshot {
  readonly generation: number;
  /**
   * The policy's content hash (`policyHash`: its canonical JSON's sha256), shown by /config_dump.
   * Computed on first read: only diagnostics need it, not a reload.
   */
  readonly hash: string;
  readonly source: string;
  readonly loadedAt: Date;
  readonly policy: Policy;
  /** Inbound authorization, compiled once; undefined when the policy has no rules (SPEC §12). */
  readonly authorization: Authorizer | undefined;
  /** The winning route, the built-in fallback (inbound → app, allow-any → passthrough), or undefined. */
  route(direction: Direction, input: RouteInput): CompiledRoute | undefined;
  /** Whether the decision for this request could depend on its JSON body (buffer it only then). */
  needsBody(direction: Direction, input: RouteInput): boolean;
  /** Every route considered for the request, why it matched or not, and the winner. */
  explain(direction: Direction, input: RouteInput): RouteExplanation<CompiledRoute>;
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
