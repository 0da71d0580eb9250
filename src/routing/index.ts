/**
 * The routing core's public face: route selection, splits, sticky sessions, load balancers, explain
 * and shadow analysis. Pure — no I/O, nothing from the proxy, config loading or telemetry.
 */
export { compileRouter, explainRoutes, type Router, type MatchInput } from './router.js';
export type { RouteExplanation, RouteVerdict, RouteCheckFailure } from './explain.js';
export { findShadowedRoutes, type ShadowWarning } from './shadow.js';
export { compileSplit, type Split, type Weighted } from './split.js';
export { compileRegex } from './regex.js';
export { literalPrefix, literalPrefixes } from './regex-prefixes.js';
export { JSON_BODY_LIMIT, isJsonContentType, parseJsonBody } from './json-body.js';

export { stickyBucket } from './sticky-bucket.js';
export {
  compileStickyKey, headerValue, readCookie, sessionCookie, normaliseIp, MAX_COOKIE_KEY_LENGTH,
  type StickyPolicy, type StickyRequest, type StickyKey, type StickyKeyOptions,
} from './sticky-key.js';
export { SessionAffinity, type SessionAffinityOptions } from './session-affinity.js';
export type { SharedSessionStore, SessionQuery } from './shared-sessions.js';
export { hash53, hash53Pair, fnv1a64 } from './hash.js';

export {
  CONSISTENT_HASH_KINDS,
  type LoadBalancer, type LoadBalancerKind, type BalancerEndpoint, type PickContext,
} from './balancers/load-balancer.js';
export { createLoadBalancer, LOAD_BALANCER_KINDS, type LoadBalancerOptions } from './balancers/create-balancer.js';
export { LoadTracker, type LoadTrackerOptions } from './balancers/load-tracker.js';
export type { RingHashOptions } from './balancers/ring-hash.js';
export type { MaglevOptions } from './balancers/maglev.js';

export {
  LocalityView, localityBucket, compileTiering, parseLocality, formatLocality, tierLabel, tierShares,
  OVERPROVISIONING_FACTOR, REGION_LABEL, ZONE_LABEL,
  type Locality, type Tier, type TierKind, type Tiering, type LocalityEndpoint, type TierView,
} from './locality/index.js';
