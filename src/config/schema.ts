/**
 * The policy schema (SPEC §4) as zod types. Unknown keys are errors everywhere (`strictObject`);
 * durations become milliseconds and defaults are filled in here, so the rest of the code reads one
 * fully-resolved `Policy` and never re-applies a default. Cross-references (upstreams, subsets,
 * weights) are checked in `validate-refs.ts`, which has the whole document in view.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { GRPC_RETRY_NAME_LIST, httpStatusForGrpc } from '../core/grpc.js';

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(v)} (use e.g. 250ms, 1s, 2m, or milliseconds)`, input: v });
    return z.NEVER;
  }
  return ms;
});
const percent = z.number().min(0).max(100);
const port = z.number().int().min(0).max(65535);
const count = z.number().int().min(0);
const labels = z.record(z.string(), z.string());
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$/, 'expected host:port');

const listener = (defPort: number, defAddress: string) =>
  z.strictObject({ port: port.default(defPort), address: z.string().min(1).default(defAddress) });

/**
 * Edge limits of a data-plane listener (SPEC §5 "Limits and overload"; Envoy's edge defaults:
 * `max_request_headers_kb` 60, `max_headers_count` 100, `request_headers_timeout`). Over the head
 * limits the answer is 431, a trickled head is cut (408) after `headersTimeout`, and connections past
 * `maxConnections` are closed as they arrive.
 */
const edgeLimits = {
  maxConnections: count.min(1).default(10_000),
  headersTimeout: duration.refine((ms) => ms >= 1, 'headersTimeout must be at least 1ms').default(10_000),
  maxRequestHeadersKb: z.number().int().min(1).max(8192).default(60),
  maxHeadersCount: count.min(1).max(10_000).default(100),
};

const listeners = z.strictObject({
  outbound: z.strictObject({ port: port.default(15001), address: z.string().min(1).default('0.0.0.0'), ...edgeLimits }).prefault({}),
  inbound: z.strictObject({
    port: port.default(15006),
    address: z.string().min(1).default('0.0.0.0'),
    app: z.url({ protocol: /^http$/, error: 'expected an http:// URL' }).default('http://127.0.0.1:8080'),
    /**
     * The HTTP version spoken to the app (SPEC §11, as an upstream's `protocol`): `downstream` (the
     * caller's), `http1` for an app that speaks only HTTP/1.1, `http2` for an h2c-only one (gRPC).
     * Default `downstream`.
     */
    appProtocol: z.enum(['http1', 'http2', 'downstream']).default('downstream'),
    ...edgeLimits,
    /**
     * Peer authentication (SPEC §12, Istio's PeerAuthentication modes): `strict` takes only mutual
     * TLS, `permissive` TLS and plaintext on the one port, `disable` plaintext. Default `permissive`
     * when the policy has an `identity`, else `disable` (filled in by `policySchema`).
     */
    tls: z.strictObject({ mode: z.enum(['strict', 'permissive', 'disable']).optional() }).prefault({}),
  }).prefault({}),
  admin: z.strictObject({
    port: port.default(15000),
    address: z.string().min(1).default('127.0.0.1'),
    token: z.string().min(1).optional(),
  }).prefault({}),
  telemetry: listener(15020, '0.0.0.0').prefault({}),
});

const endpoint = z.strictObject({ address: hostPort, labels: labels.default({}) });

/**
 * The workload's identity (SPEC §12): its certificate, key and the mesh CA in cert-manager's Secret
 * layout, and the trust domain its SPIFFE ID (and every peer's) is in.
 */
const identity = z.strictObject({
  certFile: z.string().min(1).default('/etc/pilotfish/certs/tls.crt'),
  keyFile: z.string().min(1).default('/etc/pilotfish/certs/tls.key'),
  caFile: z.string().min(1).default('/etc/pilotfish/certs/ca.crt'),
  trustDomain: z.string().min(1).default('cluster.local'),
});

/**
 * TLS origination to an upstream (SPEC §12): `mutual` presents the workload certificate and trusts
 * the mesh CA, `simple` is ordinary TLS (the system's roots, or `caFile`). `sni` is sent as the
 * server name (default: the endpoint's host name, none for an IP); `subjectAltNames` lists the
 * server identities accepted (URI, DNS or IP SANs, exact).
 */
const upstreamTls = z.strictObject({
  mode: z.enum(['mutual', 'simple', 'disable']),
  sni: z.string().min(1).optional(),
  subjectAltNames: z.array(z.string().min(1)).min(1).optional(),
  caFile: z.string().min(1).optional(),
});

const patternList = z.array(z.string()).min(1, 'an empty list matches nothing: leave the field out to match any');

/** One authorization rule (SPEC §12; Istio's AuthorizationPolicy rule, one source and one operation). */
const authorizationRule = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/, 'rule names are [A-Za-z0-9_.:/-], starting with a letter or digit'),
  action: z.enum(['allow', 'deny']),
  from: z.strictObject({ principals: patternList.optional(), namespaces: patternList.optional(), ipBlocks: patternList.optional() }).optional(),
  to: z.strictObject({
    methods: z.array(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'expected an HTTP method').transform((m) => m.toUpperCase())).min(1).optional(),
    paths: patternList.optional(),
    ports: z.array(z.number().int().min(1).max(65535)).min(1).optional(),
  }).optional(),
});

/** A place: the sidecar's own (top level) — endpoints carry theirs as `region`/`zone` labels. */
const locality = z.strictObject({ region: z.string().min(1), zone: z.string().min(1).optional() });

const upstream = z.strictObject({
  endpoints: z.array(endpoint).min(1),
  /**
   * The HTTP version spoken to the endpoints (SPEC §11): `http1`, `http2` (cleartext, prior
   * knowledge; multiplexed sessions per endpoint), or `downstream` — the version the request came
   * in on. Default `downstream`.
   */
  protocol: z.enum(['http1', 'http2', 'downstream']).default('downstream'),
  dnsRefresh: duration.default(5000),
  subsets: z.record(z.string().min(1), labels).default({}),
  loadBalancer: z.enum(['round-robin', 'random', 'least-request', 'ewma', 'ring-hash', 'maglev']).default('round-robin'),
  connectionPool: z.strictObject({
    maxConnections: count.min(1).default(1024),
    maxPendingRequests: count.default(1024),
    connectTimeout: duration.default(5000),
    idleTimeout: duration.default(4000),
  }).prefault({}),
  /**
   * Active health checks: `GET path` (over the upstream's protocol; `downstream` probes HTTP/1.1),
   * or `grpc: { service }` — gRPC's `grpc.health.v1.Health/Check` over HTTP/2, healthy when it
   * answers SERVING (SPEC §11). Exactly one of the two.
   */
  healthCheck: z.strictObject({
    path: z.string().startsWith('/').optional(),
    grpc: z.strictObject({ service: z.string().default('') }).optional(),
    interval: duration.default(5000),
    timeout: duration.default(1000),
    unhealthyThreshold: count.min(1).default(3),
    healthyThreshold: count.min(1).default(2),
  }).refine((h) => (h.path === undefined) !== (h.grpc === undefined), 'expected exactly one of path | grpc').optional(),
  outlierDetection: z.strictObject({
    consecutive5xx: count.min(1).default(5),
    consecutiveGatewayErrors: count.min(1).optional(),
    interval: duration.default(10_000),
    baseEjectionTime: duration.default(30_000),
    maxEjectionPercent: percent.default(10),
  }).optional(),
  circuitBreaker: z.strictObject({
    errorThresholdPercentage: percent.default(50),
    volumeThreshold: count.default(20),
    rollingWindow: duration.default(10_000),
    resetTimeout: duration.default(30_000),
  }).optional(),
  /** Locality-aware balancing (SPEC §5): nearest tier first, spilling by health. Writing the block enables it. */
  locality: z.strictObject({
    enabled: z.boolean().default(true),
    failover: z.array(z.string().min(1)).default([]),
  }).optional(),
  tls: upstreamTls.optional(),
});

const stringMatch = z.union([
  z.strictObject({ exact: z.string() }),
  z.strictObject({ prefix: z.string() }),
  z.strictObject({ regex: z.string() }),
  z.strictObject({ present: z.boolean() }),
], { error: 'expected exactly one of exact | prefix | regex | present' });

const pathMatch = z.union([
  z.strictObject({ exact: z.string().startsWith('/') }),
  z.strictObject({ prefix: z.string().startsWith('/') }),
  z.strictObject({ regex: z.string() }),
], { error: 'expected exactly one of exact | prefix | regex' });

const headerOps = z.strictObject({
  set: z.record(z.string(), z.string()).default({}),
  add: z.record(z.string(), z.string()).default({}),
  remove: z.array(z.string()).default([]),
});

const retryOn = z.union([
  z.enum(['5xx', 'gateway-error', 'reset', 'connect-failure', 'retriable-4xx']),
  z.enum(GRPC_RETRY_NAME_LIST),
  z.number().int().min(100).max(599),
]);

/**
 * A route's token bucket (SPEC §5 "Rate limits"): `requests` per `per`, up to `burst` at once
 * (default `requests`); `key` a header name or `sourceIp` for a bucket per client (at most `maxKeys`
 * of them, least recently used forgotten), else one bucket for the route.
 */
const rateLimit = z.strictObject({
  requests: count.min(1),
  per: duration.refine((ms) => ms > 0, 'per must be longer than 0'),
  burst: count.min(1).optional(),
  key: z.string().min(1).optional(),
  scope: z.enum(['local', 'fleet']).default('local'),
  maxKeys: count.min(1).max(1_000_000).default(10_000),
}).transform((r) => ({ ...r, burst: r.burst ?? r.requests }));

/**
 * A fault's abort: an HTTP `status`, or a gRPC `grpcStatus` (SPEC §11) — exactly one. A gRPC abort
 * answers a non-gRPC request with the HTTP status gRPC maps it to (14 → 503, 4 → 504, …); an HTTP
 * one answers a gRPC request with the gRPC status its HTTP status maps to.
 */
const faultAbort = z.strictObject({
  status: z.number().int().min(200).max(599).optional(),
  grpcStatus: z.number().int().min(0).max(16).optional(),
  percent: percent.default(100),
}).refine((a) => (a.status === undefined) !== (a.grpcStatus === undefined), 'expected exactly one of status | grpcStatus')
  .transform((a) => ({ status: a.status ?? httpStatusForGrpc(a.grpcStatus!), percent: a.percent, ...(a.grpcStatus === undefined ? {} : { grpcStatus: a.grpcStatus }) }));

const route = z.strictObject({
  name: z.string().min(1),
  direction: z.enum(['outbound', 'inbound']).default('outbound'),
  match: z.strictObject({
    host: z.string().min(1).optional(),
    path: pathMatch.optional(),
    method: z.array(z.string().min(1).transform((m) => m.toUpperCase())).min(1).optional(),
    headers: z.record(z.string(), stringMatch).optional(),
    query: z.record(z.string(), stringMatch).optional(),
    jsonBody: z.record(z.string(), stringMatch).optional(),
  }).default({}),
  priority: z.number().int().default(0),
  to: z.array(z.strictObject({
    upstream: z.string().min(1),
    subset: z.string().min(1).optional(),
    weight: z.number().int().min(0).max(100).optional(),
  })).min(1).optional(),
  sticky: z.union([
    z.strictObject({ header: z.string().min(1) }),
    z.strictObject({ cookie: z.strictObject({
      name: z.string().min(1),
      ttl: duration.default(3_600_000),
      /** Session → endpoint kept in the fleet's Redis, so every sidecar of the fleet agrees (SPEC §9). Default false. */
      shared: z.boolean().optional(),
    }) }),
    z.strictObject({ sourceIp: z.literal(true) }),
  ], { error: 'expected one of header | cookie | sourceIp' }).optional(),
  timeout: duration.default(15_000),
  retries: z.strictObject({
    attempts: count,
    perTryTimeout: duration.optional(),
    retryOn: z.array(retryOn).default(['5xx', 'reset', 'connect-failure']),
    backoff: z.strictObject({ base: duration.default(25), max: duration.default(250) }).prefault({}),
    budget: z.strictObject({ percent: percent.default(20), minPerSecond: count.default(10) }).prefault({}),
    nonIdempotent: z.boolean().default(false),
  }).optional(),
  mirror: z.strictObject({
    upstream: z.string().min(1),
    percent: percent.default(100),
    compare: z.boolean().default(false),
  }).optional(),
  fault: z.strictObject({
    delay: z.strictObject({ fixed: duration, percent: percent.default(100) }).optional(),
    abort: faultAbort.optional(),
    on: z.enum(['request', 'attempt']).default('request'),
  }).optional(),
  rewrite: z.strictObject({ prefix: z.string().startsWith('/').optional(), host: z.string().min(1).optional() }).optional(),
  rateLimit: rateLimit.optional(),
  headers: z.strictObject({ request: headerOps.optional(), response: headerOps.optional() }).optional(),
});

/**
 * Load shedding under memory pressure (SPEC §5): memory in use (V8 heap plus the Buffers bodies sit
 * in) as a share of V8's heap limit. At `shedAbove` new requests get 503 `OM`; they are admitted
 * again once it is under `resumeBelow` (hysteresis). Sampled every `interval`.
 */
const overload = z.strictObject({
  shedAbove: percent.refine((p) => p > 0, 'shedAbove must be above 0').default(90),
  resumeBelow: percent.default(80),
  interval: duration.refine((ms) => ms >= 10, 'interval must be at least 10ms').default(250),
}).refine((o) => o.resumeBelow < o.shedAbove, { message: 'resumeBelow must be below shedAbove', path: ['resumeBelow'] });

/** The top-level keys of a policy: each one a part that validates on its own (see `policy-memory.ts`). */
export const policyShape = {
  version: z.literal(1, { error: 'version must be 1' }),
  listeners: listeners.prefault({}),
  overload: overload.prefault({}),
  outboundTrafficPolicy: z.enum(['registry-only', 'allow-any']).default('registry-only'),
  /** Where this sidecar runs; `PILOTFISH_LOCALITY=region/zone` overrides it. */
  locality: locality.optional(),
  /** The workload's certificate (mutual TLS); absent: no identity, inbound plaintext only. */
  identity: identity.optional(),
  upstreams: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'upstream names are [A-Za-z0-9_.-]'), upstream).default({}),
  routes: z.array(route).default([]),
  /** Inbound authorization rules: deny first, then allow-if-any (SPEC §12). */
  authorization: z.array(authorizationRule).default([]),
};

/** What the whole policy's schema does after its parts: defaults that depend on more than one part. */
export function finishPolicy(p: z.output<z.ZodObject<typeof policyShape>>) {
  // The inbound TLS mode's default depends on the identity: permissive with one, else plaintext.
  const inbound = p.listeners.inbound;
  const mode = inbound.tls.mode ?? (p.identity ? 'permissive' : 'disable');
  return { ...p, listeners: { ...p.listeners, inbound: { ...inbound, tls: { mode } } } };
}

export const policySchema = z.strictObject(policyShape).transform(finishPolicy);

/** One upstream (a map entry: its name is checked with it) and one route, validated apart. */
export const upstreamEntrySchema = z.record(policyShape.upstreams.unwrap().keyType, upstream);
export const routeSchema = route;

/** The policy as loaded: every default filled in, every duration in milliseconds. */
export type Policy = z.output<typeof policySchema>;
export type UpstreamPolicy = Policy['upstreams'][string];
export type RoutePolicy = Policy['routes'][number];
export type StringMatchPolicy = z.output<typeof stringMatch>;
export type PathMatchPolicy = z.output<typeof pathMatch>;
export type Direction = RoutePolicy['direction'];
export type LocalityPolicy = z.output<typeof locality>;
export type RateLimitPolicy = z.output<typeof rateLimit>;
export type ListenerLimits = Pick<Policy['listeners']['outbound'], 'maxConnections' | 'headersTimeout' | 'maxRequestHeadersKb' | 'maxHeadersCount'>;
export type OverloadPolicy = Policy['overload'];
export type IdentityPolicy = z.output<typeof identity>;
export type UpstreamTlsPolicy = z.output<typeof upstreamTls>;
export type AuthorizationRulePolicy = z.output<typeof authorizationRule>;
export type InboundTlsMode = Policy['listeners']['inbound']['tls']['mode'];
