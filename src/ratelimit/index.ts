/**
 * Rate limits (SPEC §5 "Rate limits"): token buckets (as GCRA), bounded per-key tables, the
 * `RateLimiter` seam, the fleet-wide limiter's allowance logic (its store lives in src/fleet/), the
 * registry that keeps buckets across reloads, and the IETF RateLimit fields. Pure: no I/O, nothing
 * from the proxy, config loading, telemetry or Redis.
 */
export { compileRate, gcraLease, gcraTake, gcraRemaining, type Rate, type Gcra, type LeaseOutcome } from './gcra.js';
export { KeyedBuckets, MAX_KEY_LENGTH } from './keyed-buckets.js';
export { LocalRateLimiter, type RateLimiter, type LimiterStats, type LocalLimiterOptions } from './rate-limiter.js';
export { RateLimiterRegistry, type RateLimitSpec, type LimiterFactories } from './limiter-registry.js';
export { limitedHeaders, policyField, retrySeconds, sfString } from './ratelimit-headers.js';
export { FallbackSwitch, type FallbackEvents, type FallbackSwitchOptions } from './fallback-switch.js';
export {
  FleetRateLimiter, detachedFleetLimiter, LEASE_SPAN_MS, LEASE_TTL_MS, LEASE_WAIT_MS,
  type FleetLimiterOptions, type FleetLimiterState, type FleetView, type Lease, type SharedBuckets,
} from './fleet-limiter.js';
