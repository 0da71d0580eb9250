/**
 * The innermost layers: pick a destination by weight, an endpoint inside it, and hand the request to
 * the forwarding engine with whatever remains of the route's deadline.
 */
import { performance } from 'node:perf_hooks';
import type { Handler } from '../core/context.js';
import { noHealthyUpstream, upstreamTimeout } from '../core/errors.js';
import type { Split } from '../routing/index.js';
import type { ForwardingEngine } from '../proxy/engine.js';
import type { UpstreamState } from '../upstreams/index.js';

export interface Destination {
  readonly upstream: UpstreamState;
  readonly subset: string | undefined;
}

export function upstreamCall(split: Split<Destination>, engine: ForwardingEngine): Handler {
  return (req, ctx) => {
    const dest = split.pick(Math.random() * 100);
    const { upstream, subset } = dest;
    ctx.upstream = upstream.name;
    ctx.subset = subset ?? '';
    const endpoint = upstream.pick(subset);
    if (!endpoint) return Promise.reject(noHealthyUpstream(subset ? `${upstream.name}/${subset}` : upstream.name));
    ctx.endpoint = endpoint.address;
    ctx.attempts++;
    const remaining = ctx.deadline - performance.now();
    if (remaining <= 0) return Promise.reject(upstreamTimeout(endpoint.address, 0));
    return engine.forward(req, {
      target: endpoint.url,
      agent: upstream.agent,
      timeoutMs: remaining,
      connectTimeoutMs: upstream.options.connectTimeout,
    });
  };
}

/** `allow-any`: the request goes to the address it named itself (Host, default port 80). */
export function passthroughCall(upstream: UpstreamState, engine: ForwardingEngine): Handler {
  return (req, ctx) => {
    const target = new URL(`http://${req.host}`);
    ctx.upstream = upstream.name;
    ctx.endpoint = target.host;
    ctx.attempts++;
    return engine.forward(req, {
      target,
      agent: upstream.agent,
      timeoutMs: Math.max(1, ctx.deadline - performance.now()),
      connectTimeoutMs: upstream.options.connectTimeout,
    });
  };
}
