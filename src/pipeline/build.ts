/**
 * validate → compile → **build** → swap: turns a validated policy into a `Snapshot` whose routes each
 * carry their stack of layers, built once here and shared by every request on the snapshot:
 *
 *   rescue → [inbound] authorization → rate limit → header ops / rewrite → mirror → sticky key + destination (split, health) →
 *     fault (on: request) → timeout → retry (budget, body replay) →
 *       [each try] endpoint pick → pool → breaker → fault (on: attempt) → engine (per-try timeout)
 *
 * Built aside against a registry plan; the caller swaps it in only on success.
 */
import type { Logger } from 'pino';
import { policyHash, type Direction, type Policy, type RoutePolicy } from '../config/index.js';
import { compose, type Handler, type Layer } from '../core/context.js';
import type { ProxyEvents } from '../core/events.js';
import { deepFreeze, type CompiledRoute, type RouteInput, type Snapshot } from '../core/snapshot.js';
import { FaultPolicy, RetryLoop, type RuntimeFaults } from '../resilience/index.js';
import { compileAuthorization, type Authorizer } from '../authz/index.js';
import { compileRouter, compileSplit, type RouteExplanation, type Router, type SharedSessionStore, type Split } from '../routing/index.js';
import type { ForwardingEngine } from '../proxy/engine.js';
import { APP_UPSTREAM, PASSTHROUGH_UPSTREAM, type UpstreamState } from '../upstreams/index.js';
import { makeTry, NO_TRIED } from './attempt.js';
import { describeDestination, destinationHandler, type DestinationStack } from './destination.js';
import { pickEndpoint } from './endpoint-pick.js';
import { faultLayer } from './fault.js';
import { headerOpsLayer } from './header-ops.js';
import { mirrorLayer } from './mirror.js';
import { describeRateLimit, rateLimitLayer } from './rate-limit.js';
import { RateLimiterRegistry } from '../ratelimit/index.js';
import { rescueLayer } from './rescue.js';
import { authorizeLayer } from './authorize.js';
import { retryHandler } from './retry.js';
import type { RetryBudgets } from './retry-budgets.js';
import type { MemoryPressure } from './body.js';
import { timeoutLayer } from './timeout.js';
import { passthroughCall } from './upstream-call.js';

export interface BuildDeps {
  /** Upstream state for every upstream of the policy (a registry plan, not yet committed). */
  readonly states: ReadonlyMap<string, UpstreamState>;
  readonly engine: ForwardingEngine;
  readonly log: Logger;
  readonly events: ProxyEvents;
  readonly faults: RuntimeFaults;
  /** Rate limiters that outlive reloads (the sidecar's); default: fresh ones for this snapshot. */
  readonly rateLimits?: RateLimiterRegistry;
  /** The fleet's session store, for `sticky.cookie.shared` routes (only with a fleet). */
  readonly sessions?: SharedSessionStore;
  /** Retry budgets kept across reloads; without it each build makes fresh ones (explain, tools). */
  readonly budgets?: RetryBudgets;
  /** The overload monitor: under pressure bodies stream instead of being buffered, mirrors are dropped. */
  readonly pressure?: MemoryPressure;
  /** What the last build compiled, for the next one to reuse (the sidecar's); default: compile everything. */
  readonly compiled?: CompiledParts;
}

interface HeldRoute {
  /** The upstream states it was built on (its destinations', then its mirror's). */
  readonly states: readonly UpstreamState[];
  readonly authorizer: Authorizer | undefined;
  readonly value: CompiledRoute;
}

/**
 * The compiled parts of the last snapshot built, kept for the next build: a route whose policy is
 * the same object (`PolicyMemory` hands an unchanged route back as it was) and whose upstreams keep
 * their state is reused as built, layers and all; so is the authorization compiled from the same
 * rules. Holds only the last build's parts (everything else the deps carry is the data plane's for
 * its lifetime: engine, events, faults, limiters, budgets, sessions).
 */
export class CompiledParts {
  routes = new Map<RoutePolicy, HeldRoute>();
  authorization: { readonly rules: Policy['authorization']; readonly authorizer: Authorizer | undefined } | undefined;
}

/** Default route timeout (Envoy's): used by the built-in inbound and passthrough routes. */
const DEFAULT_TIMEOUT_MS = 15_000;
const APP_DESTINATION: NonNullable<RoutePolicy['to']> = [{ upstream: APP_UPSTREAM }];
/** The built-in inbound route to the app (one object: reused across builds like a policy's route). */
const APP_ROUTE: RoutePolicy = deepFreeze({
  name: 'inbound|app', direction: 'inbound', match: {}, priority: 0, timeout: DEFAULT_TIMEOUT_MS, to: APP_DESTINATION,
} satisfies RoutePolicy);

export function buildSnapshot(policy: Policy, source: string, generation: number, deps: BuildDeps): Snapshot {
  deepFreeze(policy);
  const state = (name: string): UpstreamState => {
    const s = deps.states.get(name);
    if (!s) throw new Error(`upstream ${name} missing from the registry`);
    return s;
  };
  const limiters = deps.rateLimits ?? new RateLimiterRegistry();
  const kept = deps.compiled;
  const authorizer = kept?.authorization?.rules === policy.authorization ? kept.authorization.authorizer : compileAuthorization(policy.authorization);
  const held = new Map<RoutePolicy, HeldRoute>();
  const build = (route: RoutePolicy): CompiledRoute => {
    const states = [...(route.to ?? APP_DESTINATION).map((d) => state(d.upstream)), ...(route.mirror ? [state(route.mirror.upstream)] : [])];
    const last = kept?.routes.get(route);
    const reused = last && last.authorizer === authorizer && last.states.length === states.length && last.states.every((s, i) => s === states[i]);
    const value = reused ? last.value : buildRoute(route, state, deps, limiters, authorizer);
    held.set(route, { states, authorizer, value });
    return value;
  };
  const compiled = policy.routes.map((route) => ({ policy: route, value: build(route) }));
  const router = compileRouter(compiled);
  const appRoute = build(APP_ROUTE);
  if (kept) {
    kept.routes = held;
    kept.authorization = { rules: policy.authorization, authorizer };
  }
  const passthrough: CompiledRoute | undefined = policy.outboundTrafficPolicy === 'allow-any'
    ? {
      name: 'outbound|passthrough', direction: 'outbound', timeoutMs: DEFAULT_TIMEOUT_MS,
      handler: compose([rescueLayer(deps.log), timeoutLayer(DEFAULT_TIMEOUT_MS)], passthroughCall(state(PASSTHROUGH_UPSTREAM), deps.engine)),
      upgradeTarget: (host) => new URL(`http://${host}`),
      describeDestination: () => ({ split: [{ upstream: PASSTHROUGH_UPSTREAM, subset: null, weight: 100, endpoints: ['(the Host itself)'], eligible: ['(the Host itself)'] }] }),
    }
    : undefined;

  return Object.freeze(new BuiltSnapshot(generation, source, policy, authorizer, router, appRoute, passthrough));
}

/**
 * A snapshot as a class: `route`, `needsBody` and `explain` are the same functions for every
 * snapshot, so the request path's calls into a new snapshot find the targets it was optimized for
 * (methods made per snapshot were new call targets after each flip, and V8 threw away the
 * optimized request path — "wrong call target" — on the first requests after it).
 */
class BuiltSnapshot implements Snapshot {
  readonly loadedAt = new Date();
  /** The policy hash, computed on first read (a private field: the snapshot is frozen). */
  #hash: string | undefined;

  constructor(
    readonly generation: number,
    readonly source: string,
    readonly policy: Policy,
    readonly authorization: Authorizer | undefined,
    private readonly router: Router<CompiledRoute>,
    private readonly appRoute: CompiledRoute,
    private readonly passthrough: CompiledRoute | undefined,
  ) {}

  get hash(): string { return (this.#hash ??= policyHash(this.policy)); }

  route(direction: Direction, input: RouteInput): CompiledRoute | undefined {
    return this.router.match(direction, input) ?? (direction === 'inbound' ? this.appRoute : this.passthrough);
  }

  needsBody(direction: Direction, input: RouteInput): boolean {
    return this.router.needsBody(direction, input.host) && this.router.needsBodyFor(direction, input);
  }

  explain(direction: Direction, input: RouteInput): RouteExplanation<CompiledRoute> {
    return this.router.explain(direction, input);
  }
}

function buildRoute(route: RoutePolicy, state: (name: string) => UpstreamState, deps: BuildDeps, limiters: RateLimiterRegistry, authorizer: Authorizer | undefined): CompiledRoute {
  const to = route.to ?? APP_DESTINATION;
  const loop = route.retries ? new RetryLoop(route.retries, { budget: deps.budgets?.for(route.name, route.retries.budget) }) : undefined;
  const split = compileSplit<DestinationStack>(to.map((d) => {
    const upstream = state(d.upstream);
    return { value: { upstream, subset: d.subset, handler: destinationStack(route, upstream, d.subset, loop, deps) }, weight: to.length === 1 ? 100 : (d.weight ?? 0) };
  }));
  const outer: Layer[] = [rescueLayer(deps.log)];
  // Inbound: who may call decides first, and the peer's identity goes to the app (SPEC §12).
  if (route.direction === 'inbound') outer.push(authorizeLayer(authorizer, deps.events));
  // A cheap early reject: right under rescue, before anything that costs or reaches an upstream.
  const limit = route.rateLimit;
  const limiter = limit ? limiters.limiter(route.name, limit) : undefined;
  if (limit && limiter) outer.push(rateLimitLayer(route.name, limit, limiter, deps.events));
  const ops = headerOpsLayer(route);
  if (ops) outer.push(ops);
  if (route.mirror) {
    const m = route.mirror;
    outer.push(mirrorLayer({ route: route.name, upstream: state(m.upstream), percent: m.percent, compare: m.compare, timeoutMs: route.timeout }, deps.events, deps.engine, deps.pressure));
  }
  return Object.freeze<CompiledRoute>({
    name: route.name,
    direction: route.direction,
    timeoutMs: route.timeout,
    handler: compose(outer, destinationHandler(route.name, split, route.sticky)),
    upgradeTarget: () => pickTarget(split),
    describeDestination: (headers, sourceIp) => describeDestination(split, route.sticky, route.name, headers, sourceIp),
    ...(limit && limiter ? { describeRateLimit: (headers, sourceIp) => describeRateLimit(limit, limiter, headers, sourceIp) } : {}),
    retryBudget: () => loop?.retryBudget?.view(),
  });
}

function destinationStack(route: RoutePolicy, upstream: UpstreamState, subset: string | undefined, loop: RetryLoop | undefined, deps: BuildDeps): Handler {
  const fault = route.fault ? new FaultPolicy(route.fault) : undefined;
  const once = makeTry({
    route: route.name, upstream, subset,
    perTryTimeout: route.retries?.perTryTimeout,
    fault: route.fault?.on === 'attempt' ? fault : undefined,
    affinity: route.sticky && 'cookie' in route.sticky ? { route: route.name, ttlMs: route.sticky.cookie.ttl } : undefined,
    shared: route.sticky && 'cookie' in route.sticky && route.sticky.cookie.shared ? deps.sessions : undefined,
  }, deps);
  const inner: Handler = loop ? retryHandler(loop, route.name, upstream.name, deps.events, once, deps.pressure) : (req, ctx) => once(req, ctx, NO_TRIED);
  const requestFault = route.fault?.on === 'attempt' ? undefined : fault;
  return compose([faultLayer(route.name, upstream.name, requestFault, deps.faults, deps.events), timeoutLayer(route.timeout)], inner);
}

function pickTarget(split: Split<DestinationStack>): URL | undefined {
  const dest = split.pick(Math.random() * 100);
  return pickEndpoint(dest.upstream, dest.subset, undefined, NO_TRIED)?.url;
}
