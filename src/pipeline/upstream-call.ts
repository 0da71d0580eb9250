/** `allow-any`: the request goes to the address it named itself (Host, default port 80). */
import { performance } from 'node:perf_hooks';
import type { Handler } from '../core/context.js';
import type { ForwardingEngine } from '../proxy/engine.js';
import type { UpstreamState } from '../upstreams/index.js';

export function passthroughCall(upstream: UpstreamState, engine: ForwardingEngine): Handler {
  return (req, ctx) => {
    const target = new URL(`http://${req.host}`);
    ctx.upstream = upstream.name;
    ctx.endpoint = target.host;
    ctx.attempts++;
    return engine.forward(req, { target, connections: upstream.connections, timeoutMs: Math.max(1, ctx.deadline - performance.now()) });
  };
}
