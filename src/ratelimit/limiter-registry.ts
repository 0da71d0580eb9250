/**
 * Rate limiters by route, kept across reloads: a route whose `rateLimit` is unchanged keeps its
 * buckets (a reload must not hand every client a fresh burst — a reload storm would otherwise lift
 * the limit), a changed one starts afresh, a removed one is forgotten. Limiters hold no timers or
 * sockets, so forgetting one is all its disposal takes.
 */
import { LocalRateLimiter, type RateLimiter } from './rate-limiter.js';

export interface RateLimitSpec {
  readonly requests: number;
  /** ms */
  readonly per: number;
  readonly burst: number;
  readonly maxKeys: number;
  readonly scope: 'local' | 'fleet';
}

/** How a limiter of each scope is made; `fleet` comes with the fleet module (SPEC §9). */
export interface LimiterFactories {
  readonly local?: (spec: RateLimitSpec, route: string) => RateLimiter;
  readonly fleet?: (spec: RateLimitSpec, route: string) => RateLimiter;
}

const localLimiter = (spec: RateLimitSpec): RateLimiter => new LocalRateLimiter(spec);

export class RateLimiterRegistry {
  private readonly limiters = new Map<string, { fingerprint: string; limiter: RateLimiter }>();

  constructor(private readonly factories: LimiterFactories = {}) {}

  /** The limiter of `route` for `spec`: the live one when the spec is unchanged, else a new one. */
  limiter(route: string, spec: RateLimitSpec): RateLimiter {
    const fingerprint = JSON.stringify([spec.scope, spec.requests, spec.per, spec.burst, spec.maxKeys]);
    const live = this.limiters.get(route);
    if (live?.fingerprint === fingerprint) return live.limiter;
    const make = spec.scope === 'fleet' ? this.factories.fleet : (this.factories.local ?? localLimiter);
    if (!make) throw new Error(`route ${route}: rateLimit scope "${spec.scope}" needs the fleet, which this sidecar has not joined`);
    const limiter = make(spec, route);
    this.limiters.set(route, { fingerprint, limiter });
    return limiter;
  }

  /** After a policy is committed: forgets the limiters of routes it no longer has. */
  retain(routes: Iterable<string>): void {
    const keep = new Set(routes);
    for (const route of this.limiters.keys()) if (!keep.has(route)) this.limiters.delete(route);
  }

  get size(): number {
    return this.limiters.size;
  }
}
