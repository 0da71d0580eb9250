/**
 * `rewrite` (path prefix, host) and `headers.request/response` (`set`, `add`, `remove`), compiled
 * once per route. The authority rewrite leaves `x-forwarded-host` naming the original host.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RoutePolicy } from '../config/index.js';
import type { Layer } from '../core/context.js';

type Ops = NonNullable<NonNullable<RoutePolicy['headers']>['request']>;
type Headers = Record<string, string | string[] | number | undefined>;

export function headerOpsLayer(route: RoutePolicy): Layer | undefined {
  const rewritePath = compileRewrite(route);
  const host = route.rewrite?.host;
  const reqOps = route.headers?.request ? compileOps(route.headers.request) : undefined;
  const resOps = route.headers?.response ? compileOps(route.headers.response) : undefined;
  if (!rewritePath && !host && !reqOps && !resOps) return undefined;
  return (next) => async (req, ctx) => {
    if (rewritePath) req.path = rewritePath(req.path);
    if (host) req.host = host;
    reqOps?.(req.headers as Headers);
    const resp = await next(req, ctx);
    if (resOps) {
      // The upstream's header object may be shared with the stream; answer with a copy.
      const copy: Headers = { ...(resp.headers as IncomingHttpHeaders) };
      resOps(copy);
      resp.headers = copy;
    }
    return resp;
  };
}

function compileRewrite(route: RoutePolicy): ((path: string) => string) | undefined {
  const to = route.rewrite?.prefix;
  if (to === undefined) return undefined;
  const m = route.match.path;
  const from = m && 'prefix' in m ? m.prefix : undefined;
  return (path) => {
    const q = path.indexOf('?');
    const bare = q < 0 ? path : path.slice(0, q);
    const query = q < 0 ? '' : path.slice(q);
    // A prefix route swaps its matched prefix (Envoy's prefix_rewrite); exact and regex routes
    // replace the whole path.
    const rest = from !== undefined && bare.startsWith(from) ? bare.slice(from.length) : '';
    const joined = to.endsWith('/') && rest.startsWith('/') ? to + rest.slice(1) : to + rest;
    return (joined || '/') + query;
  };
}

function compileOps(ops: Ops): (h: Headers) => void {
  const set = Object.entries(ops.set).map(([k, v]) => [k.toLowerCase(), v] as const);
  const add = Object.entries(ops.add).map(([k, v]) => [k.toLowerCase(), v] as const);
  const remove = ops.remove.map((k) => k.toLowerCase());
  return (h) => {
    for (const k of remove) delete h[k];
    for (const [k, v] of set) h[k] = v;
    for (const [k, v] of add) {
      const prior = h[k];
      h[k] = prior === undefined ? v : Array.isArray(prior) ? [...prior, v] : k === 'set-cookie' ? [String(prior), v] : `${String(prior)}, ${v}`;
    }
  };
}
