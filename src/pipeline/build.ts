/**
 * validate → compile → **build** → swap: turns a validated policy into a `Snapshot` whose routes each
 * carry their stack of layers, outermost first. Built aside; the caller swaps it in only on success.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Policy, RoutePolicy } from '../config/index.js';
import { compose, type Layer } from '../core/context.js';
import { deepFreeze, type CompiledRoute, type Snapshot } from '../core/snapshot.js';
import { compileRouter, compileSplit, type Split } from '../routing/index.js';
import type { ForwardingEngine } from '../proxy/engine.js';
import { APP_UPSTREAM, PASSTHROUGH_UPSTREAM, type UpstreamState } from '../upstreams/index.js';
import { rescueLayer } from './rescue.js';
import { timeoutLayer } from './timeout.js';
import { passthroughCall, upstreamCall, type Destination } from './upstream-call.js';

export interface BuildDeps {
  /** Upstream state for every upstream of the policy (a registry plan, not yet committed). */
  readonly states: ReadonlyMap<string, UpstreamState>;
  readonly engine: ForwardingEngine;
  readonly log: Logger;
}

/** Default route timeout (Envoy's): used by the built-in inbound and passthrough routes. */
const DEFAULT_TIMEOUT_MS = 15_000;

export function buildSnapshot(policy: Policy, source: string, generation: number, deps: BuildDeps): Snapshot {
  deepFreeze(policy);
  const states = deps.states;
  const state = (name: string): UpstreamState => {
    const s = states.get(name);
    if (!s) throw new Error(`upstream ${name} missing from the registry`);
    return s;
  };
  const stack = (timeoutMs: number): Layer[] => [rescueLayer(deps.log), timeoutLayer(timeoutMs)];

  const compiled = policy.routes.map((route) => ({ policy: route, value: buildRoute(route, state, stack, deps.engine) }));
  const router = compileRouter(compiled);
  const appSplit = compileSplit<Destination>([{ value: { upstream: state(APP_UPSTREAM), subset: undefined }, weight: 100 }]);
  const appRoute: CompiledRoute = {
    name: 'inbound|app', direction: 'inbound', timeoutMs: DEFAULT_TIMEOUT_MS,
    handler: compose(stack(DEFAULT_TIMEOUT_MS), upstreamCall(appSplit, deps.engine)),
    upgradeTarget: () => pickTarget(appSplit),
  };
  const passthrough: CompiledRoute | undefined = policy.outboundTrafficPolicy === 'allow-any'
    ? {
      name: 'outbound|passthrough', direction: 'outbound', timeoutMs: DEFAULT_TIMEOUT_MS,
      handler: compose(stack(DEFAULT_TIMEOUT_MS), passthroughCall(state(PASSTHROUGH_UPSTREAM), deps.engine)),
      upgradeTarget: (host) => new URL(`http://${host}`),
    }
    : undefined;

  return Object.freeze({
    generation,
    hash: createHash('sha256').update(source).digest('hex'),
    source,
    loadedAt: new Date(),
    policy,
    route(direction, input) {
      return router.match(direction, input) ?? (direction === 'inbound' ? appRoute : passthrough);
    },
  } satisfies Snapshot);
}

function buildRoute(route: RoutePolicy, state: (name: string) => UpstreamState, stack: (t: number) => Layer[], engine: ForwardingEngine): CompiledRoute {
  const to = route.to ?? [{ upstream: APP_UPSTREAM, weight: 100 }];
  const split = compileSplit<Destination>(to.map((d) => ({
    value: { upstream: state(d.upstream), subset: d.subset },
    weight: to.length === 1 ? 100 : (d.weight ?? 0),
  })));
  return Object.freeze({
    name: route.name,
    direction: route.direction,
    timeoutMs: route.timeout,
    handler: compose(stack(route.timeout), upstreamCall(split, engine)),
    upgradeTarget: () => pickTarget(split),
  });
}

function pickTarget(split: Split<Destination>): URL | undefined {
  const dest = split.pick(Math.random() * 100);
  return dest.upstream.pick(dest.subset)?.url;
}
