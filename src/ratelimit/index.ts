/**
 * Rate limits (SPEC §5 "Rate limits"): token buckets (as GCRA), bounded per-key tables, the
 * `RateLimiter` seam a fleet-wide limiter plugs into, the registry that keeps buckets across reloads,
 * and the IETF RateLimit fields. Pure: no I/O, nothing from the proxy, config loading or telemetry.
 */
export { compileRate, gcraTake, gcraRemaining, type Rate, type Gcra } from './gcra.js';
export { KeyedBuckets, MAX_KEY_LENGTH } from './keyed-buckets.js';
export { LocalRateLimiter, type RateLimiter, type LimiterStats, type LocalLimiterOptions } from './rate-limiter.js';
export { RateLimiterRegistry, type RateLimitSpec, type LimiterFactories } from './limiter-registry.js';
export { limitedHeaders, policyField, retrySeconds, sfString } from './ratelimit-headers.js';
