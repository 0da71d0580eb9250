/**
 * One try against one endpoint — the innermost layers of a route's stack: endpoint pick (load
 * balancer over the healthy, non-ejected members; sticky sessions by consistent hashing and cookie
 * affinity; a retry prefers an endpoint not yet tried) → admission (connection pool, 503 `UO`) →
 * circuit breaker (503 `CO`) → `on: attempt` faults → the forwarding engine, bounded by the per-try
 * timeout and what remains of the route deadline. Every outcome feeds the balancer's load tracker,
 * outlier detection and the `attempt` event.
 */
import { performance } from 'node:perf_hooks';
import type { ProxyRequest, ProxyResponse, RequestContext } from '../core/context.js';
import { ProxyError, noHealthyUpstream, upstreamTimeout } from '../core/errors.js';
import type { ProxyEvents } from '../core/events.js';
import { UNRECORDED_TRY, type TryTrace } from '../core/observer.js';
import type { ForwardingEngine } from '../proxy/engine.js';
import { Admission, CircuitOpenError, mergeDecisions, NO_FAULT, type CircuitBreaker, type FaultDecision, type FaultPolicy, type Outcome, type Release, type RuntimeFaults } from '../resilience/index.js';
import type { Endpoint, UpstreamState } from '../upstreams/index.js';
import { pickEndpoint, type AffinitySpec } from './endpoint-pick.js';
import type { SharedSessionStore } from '../routing/index.js';
import { faultResponse, applyDelay } from './fault.js';
import { grpcFailure, GrpcStatus, grpcStatusForHttp, grpcStatusOf, isGrpc, rpcAttributes, type GrpcFailure } from '../core/grpc.js';
import { trailersOf } from '../proxy/trailers.js';
import { clientSignal } from './signal.js';

/** One try; `tried` holds the endpoints this request already tried. */
export type Try = (req: ProxyRequest, ctx: RequestContext, tried: ReadonlySet<string>) => Promise<ProxyResponse>;

export interface TrySpec {
  readonly route: string;
  readonly upstream: UpstreamState;
  readonly subset: string | undefined;
  /** Per-try timeout (ms); the route deadline bounds it too. */
  readonly perTryTimeout: number | undefined;
  /** The route's `fault` when it is `on: attempt`. */
  readonly fault: FaultPolicy | undefined;
  /** Cookie stickiness: remember session → endpoint of this route for this long (ms). */
  readonly affinity: AffinitySpec | undefined;
  /** `sticky.cookie.shared`: the fleet's session store keeps session → endpoint instead of this sidecar. */
  readonly shared?: SharedSessionStore | undefined;
}

export interface TryDeps {
  readonly engine: ForwardingEngine;
  readonly events: ProxyEvents;
  readonly faults: RuntimeFaults;
}

const NONE: ReadonlySet<string> = new Set();

export function makeTry(spec: TrySpec, deps: TryDeps): Try {
  return (req, ctx, tried) => {
    if (spec.shared && spec.affinity && ctx.hashKey !== undefined) return sharedTry(spec, deps, spec.shared, spec.affinity.ttlMs, req, ctx, tried);
    let endpoint: Endpoint;
    try {
      endpoint = endpointFor(spec, ctx, tried);
    } catch (err) {
      return Promise.reject(err);
    }
    return admitted(spec, deps, req, ctx, endpoint);
  };
}

async function sharedTry(spec: TrySpec, deps: TryDeps, store: SharedSessionStore, ttlMs: number, req: ProxyRequest, ctx: RequestContext, tried: ReadonlySet<string>): Promise<ProxyResponse> {
  return admitted(spec, deps, req, ctx, await sharedEndpoint(spec, store, ttlMs, ctx.hashKey!, tried));
}

/**
 * The try on its endpoint, once the pool admits it. A function, not an `async` one: the common
 * case — a free slot (handed over synchronously), no breaker — makes no async frame and awaits
 * nothing; the engine's own promise gets one `.then` that does the try's bookkeeping (TryRun).
 */
function admitted(spec: TrySpec, deps: TryDeps, req: ProxyRequest, ctx: RequestContext, endpoint: Endpoint): Promise<ProxyResponse> {
  ctx.endpoint = endpoint.address;
  ctx.attempts++;
  const release = spec.upstream.pool.tryAcquire();
  if (release !== undefined) return run(spec, deps, req, ctx, endpoint, release);
  return spec.upstream.pool.acquire(clientSignal(req)).then((r) => run(spec, deps, req, ctx, endpoint, r));
}

function run(spec: TrySpec, deps: TryDeps, req: ProxyRequest, ctx: RequestContext, endpoint: Endpoint, release: Release): Promise<ProxyResponse> {
  const t = new TryRun(spec, deps, req, ctx, endpoint, release, spec.upstream.breaker(spec.subset));
  let answer: Promise<ProxyResponse>;
  try {
    // The breaker admits and counts synchronously (CircuitBreaker.admit / settle): the engine's
    // promise gets this one `.then`, which classifies the answer for the breaker and does the try's
    // bookkeeping — no promise of opossum's, nor a classification `.then`, in between.
    answer = t.admit() ? forwardOrFault(spec, deps, req, ctx, endpoint) : Promise.reject(new CircuitOpenError(t.breakerName()));
  } catch (err) {
    answer = Promise.reject(err);
  }
  return answer.then((resp) => t.answered(resp), (err: unknown) => t.failed(err));
}

/** One try's measurements from its start: breaker, span, load tracker, outlier detection, the `attempt` event. */
class TryRun {
  private readonly start = performance.now();
  private readonly span: TryTrace;
  private readonly recording: boolean;
  /** The breaker's admission of this try, until the try is counted (then Unprotected: counted once). */
  private admission: Admission = Admission.Unprotected;

  constructor(private readonly spec: TrySpec, private readonly deps: TryDeps, private readonly req: ProxyRequest,
    ctx: RequestContext, private readonly endpoint: Endpoint, private readonly release: Release,
    private readonly breaker: CircuitBreaker | undefined) {
    spec.upstream.tracker.start(endpoint.address);
    // Nothing recorded (tracing off, or an unsampled request): no try description to build; the
    // trace still writes the next hop's traceparent when tracing is on.
    const trace = ctx.trace;
    this.span = trace.recording
      ? trace.startClient({ method: req.method, endpoint: endpoint.address, path: req.path, upstream: spec.upstream.name, subset: spec.subset ?? '', attempt: ctx.attempts })
      : trace.startClient(UNRECORDED_TRY);
    this.recording = trace.recording;
    this.span.inject(req.headers as Record<string, unknown>);
  }

  /** False when the breaker refuses the try (open, or half-open with its trial out). */
  admit(): boolean {
    if (this.breaker === undefined) return true;
    this.admission = this.breaker.admit();
    return this.admission !== Admission.Rejected;
  }

  breakerName(): string {
    return this.breaker?.name ?? '';
  }

  answered(resp: ProxyResponse): ProxyResponse {
    const elapsed = performance.now() - this.start;
    let outcome: Outcome;
    try {
      outcome = responseOutcome(resp);
      // Upstream failures count against the breaker: a 5xx, or a trailers-only gRPC failure (a string outcome).
      this.count(typeof outcome === 'string' || resp.status >= 500, elapsed);
      if (!this.recording || !isGrpc(this.req.headers['content-type'])) this.span.end(resp.status);
      else endGrpcSpan(this.span, this.req.path, resp);
      holdUntilDone(resp, this.release);
    } catch (err) {
      return this.failed(err);
    }
    this.done(outcome, elapsed);
    return resp;
  }

  failed(err: unknown): never {
    const elapsed = performance.now() - this.start;
    this.release();
    const outcome = errorOutcome(err);
    // Connect failures, resets and timeouts count against the breaker (any error during its half-open trial).
    this.count(outcome !== undefined, elapsed, true);
    this.span.end(err instanceof Error ? err : new Error(String(err)));
    this.done(outcome, elapsed);
    throw err;
  }

  /** The try's count in the breaker's window, once: an answer (`error` false) or an error. */
  private count(failed: boolean, elapsed: number, error = false): void {
    const admission = this.admission;
    if (admission === Admission.Unprotected) return;
    this.admission = Admission.Unprotected;
    if (error) this.breaker!.settleError(admission, failed, elapsed);
    else this.breaker!.settle(admission, failed, elapsed);
  }

  private done(outcome: Outcome | undefined, elapsed: number): void {
    const { upstream } = this.spec;
    const address = this.endpoint.address;
    const ok = typeof outcome === 'number' && outcome < 500; // a gRPC failure is a string: not ok
    upstream.tracker.end(address, elapsed, ok);
    if (outcome !== undefined) {
      upstream.outlier?.record(address, outcome);
      this.deps.events.attempt(upstream.name, this.spec.subset ?? '', outcome);
    }
  }
}

function endpointFor(spec: TrySpec, ctx: RequestContext, tried: ReadonlySet<string>): Endpoint {
  const { upstream, subset } = spec;
  const endpoint = pickEndpoint(upstream, subset, ctx.hashKey, tried, spec.affinity);
  if (!endpoint) throw noHealthyUpstream(subset ? `${upstream.name}/${subset}` : upstream.name);
  return endpoint;
}

/**
 * A shared session's endpoint: the fleet's store remembers it; a new session gets the upstream's
 * own balancer's choice (least-request, …) rather than a hash, since the store — not the hash — is
 * what keeps every sidecar agreeing. While the store is unreachable, consistent hashing serves.
 */
async function sharedEndpoint(spec: TrySpec, store: SharedSessionStore, ttlMs: number, key: string, tried: ReadonlySet<string>): Promise<Endpoint> {
  const { upstream, subset } = spec;
  const endpoint = await store.resolve({
    scope: `${spec.route}|${upstream.name}|${subset ?? ''}`, key, ttlMs, eligible: upstream.eligible(subset),
    tried: tried.size > 0 ? tried : undefined,
    // A new session: the plain pick (locality tiers, then the balancer), as for a request with no key.
    pick: (avoid) => pickEndpoint(upstream, subset, undefined, avoid ?? NONE),
    // The store unreachable: the sticky pick without affinity — consistent hashing, alike on every sidecar.
    fallback: () => pickEndpoint(upstream, subset, key, tried),
  });
  if (!endpoint) throw noHealthyUpstream(subset ? `${upstream.name}/${subset}` : upstream.name);
  return endpoint;
}

/** `on: attempt` faults, then the engine; the engine's own promise is returned when nothing is injected. */
function forwardOrFault(spec: TrySpec, deps: TryDeps, req: ProxyRequest, ctx: RequestContext, endpoint: Endpoint): Promise<ProxyResponse> {
  const runtime = deps.faults.decide(spec.route, spec.upstream.name, 'attempt');
  const decision = spec.fault ? mergeDecisions([spec.fault.decide(), runtime]) : runtime;
  return decision === NO_FAULT ? forward(spec, deps, req, ctx, endpoint) : faulted(decision, spec, deps, req, ctx, endpoint);
}

async function faulted(decision: FaultDecision, spec: TrySpec, deps: TryDeps, req: ProxyRequest, ctx: RequestContext, endpoint: Endpoint): Promise<ProxyResponse> {
  if (decision.delayMs) await applyDelay(decision.delayMs, spec.route, req, ctx, deps.events);
  if (decision.abortStatus) return faultResponse(decision, spec.route, req, ctx, deps.events);
  return forward(spec, deps, req, ctx, endpoint);
}

function forward(spec: TrySpec, deps: TryDeps, req: ProxyRequest, ctx: RequestContext, endpoint: Endpoint): Promise<ProxyResponse> {
  const remaining = ctx.deadline - performance.now();
  const timeoutMs = spec.perTryTimeout === undefined ? remaining : Math.min(spec.perTryTimeout, remaining);
  if (timeoutMs <= 0) return Promise.reject(upstreamTimeout(endpoint.address, 0));
  return deps.engine.forward(req, { target: endpoint.url, connections: spec.upstream.connections, timeoutMs });
}

/**
 * The pool slot is held while the response body streams; it is freed when the body ends or dies. An
 * upstream response always emits 'close' last — after 'end', after an error, and when a consumer
 * destroys it — so one listener covers all three.
 */
/**
 * A gRPC try's CLIENT span ends with the call's gRPC status (OpenTelemetry's RPC conventions): at
 * once for a trailers-only answer, else when its body closes — its trailers (`grpc-status`) have
 * come by then, and the span covers the whole call as the SERVER span does.
 */
function endGrpcSpan(span: TryTrace, path: string, resp: ProxyResponse): void {
  const body = resp.body;
  if (Buffer.isBuffer(body)) { span.end(resp.status, rpcAttributes(path, grpcStatusOf(resp.headers) ?? grpcStatusForHttp(resp.status))); return; }
  body.once('close', () => {
    const status = grpcStatusOf(trailersOf(body)) ?? grpcStatusOf(resp.headers)
      ?? (resp.status !== 200 ? grpcStatusForHttp(resp.status) : body.readableEnded ? GrpcStatus.UNKNOWN : GrpcStatus.CANCELLED);
    span.end(resp.status, rpcAttributes(path, status));
  });
}

function holdUntilDone(resp: ProxyResponse, release: Release): void {
  if (Buffer.isBuffer(resp.body)) { release(); return; }
  // `on`, not `once`: 'close' comes once anyway, `once` allocates a wrapper, and release is idempotent.
  resp.body.on('close', release);
}

/**
 * What an answer comes to for retries, breakers and outlier detection: its status, or — for a
 * trailers-only gRPC answer whose `grpc-status` is a failure (SPEC §11) — that failure.
 */
export function responseOutcome(resp: ProxyResponse): Outcome {
  return grpcFailedAnswer(resp) ?? resp.status;
}

/** A trailers-only answer (headers only, an empty body) carrying a failed `grpc-status`. */
function grpcFailedAnswer(resp: ProxyResponse): GrpcFailure | undefined {
  if (resp.headers['grpc-status'] === undefined) return undefined;
  return grpcFailure(grpcStatusOf(resp.headers));
}

/** The outcome of a failed try as the resilience modules see it; undefined when not the upstream's doing. */
export function errorOutcome(err: unknown): Outcome | undefined {
  if (!(err instanceof ProxyError)) return undefined;
  if (err.flag === 'UF') return 'connect-failure';
  if (err.flag === 'UC') return 'reset';
  if (err.flag === 'UT') return 'timeout';
  return undefined;
}


export { NONE as NO_TRIED };
