export { loadPolicyFile, parsePolicy, formatDiagnostic, type Diagnostic, type LoadResult, type PolicyContext } from './load.js';
export type { Policy, UpstreamPolicy, RoutePolicy, StringMatchPolicy, PathMatchPolicy, Direction, LocalityPolicy, RateLimitPolicy, ListenerLimits, OverloadPolicy,
  IdentityPolicy, UpstreamTlsPolicy, AuthorizationRulePolicy, InboundTlsMode } from './schema.js';
export { BUILTIN_UPSTREAMS } from './validate-refs.js';
export { parseDuration, formatDuration } from './duration.js';
export { policyHash, textHash, canonicalJson } from './policy-hash.js';
export { PolicyMemory } from './policy-memory.js';
