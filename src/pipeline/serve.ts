/**
 * The one request core every edge calls (the HTTP/1 listeners, library mode's fetch and `Dispatcher`):
 * on the snapshot current at arrival, read a JSON body when some route's decision could depend on it,
 * pick the route (or answer 404 NR), run its stack, and turn any failure into the sidecar's own answer
 * (`rescue`). The edge builds the `ProxyRequest` and writes the answer; everything between is here.
 */
import { performance } from 'node:perf_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { Direction } from '../config/index.js';
import type { ProxyRequest, ProxyResponse, RequestContext } from '../core/context.js';
import { noRoute } from '../core/errors.js';
import { NO_TRACE } from '../core/observer.js';
import type { RouteInput, Snapshot } from '../core/snapshot.js';
import { isJsonContentType, JSON_BODY_LIMIT, parseJsonBody } from '../routing/index.js';
import { bufferBody, hasBody } from './body.js';
import { rescue } from './rescue.js';
import { isGrpc } from '../core/grpc.js';

/** A fresh per-request context on `snapshot`, started now; `peer` is a mutual-TLS peer's SPIFFE ID ('' for none). */
export function newContext(direction: Direction, snapshot: Snapshot, peer = ''): RequestContext {
  return {
    direction, requestId: '', start: performance.now(), generation: snapshot.generation,
    deadline: Infinity, flags: [], route: '', upstream: '', subset: '', endpoint: '', attempts: 0, hashKey: undefined, trace: NO_TRACE,
    peer, transportFailure: '',
  };
}

/** What the router matches on: host without port, path and query apart. `host` keeps its port here. */
export function routeInput(host: string, path: string, method: string, headers: IncomingHttpHeaders): RouteInput {
  const q = path.indexOf('?');
  return { host: stripPort(host), path: q < 0 ? path : path.slice(0, q), query: q < 0 ? '' : path.slice(q + 1), method, headers };
}

function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const i = host.lastIndexOf(':');
  return i < 0 ? host : host.slice(0, i);
}

/** Routes and runs `req`; never rejects: a failure resolves as the sidecar's own answer. */
export function serve(snapshot: Snapshot, req: ProxyRequest, input: RouteInput, ctx: RequestContext, log: Logger): Promise<ProxyResponse> {
  const headers = input.headers;
  if (snapshot.needsBody(ctx.direction, input) && isJsonContentType(headers['content-type'] as string | undefined) && hasBody(req)) {
    // Some route's jsonBody conditions could decide this request: read up to 64 KiB of it first.
    return bufferBody(req, JSON_BODY_LIMIT).then(() => {
      if (req.body) input.json = parseJsonBody(req.body, headers['content-type'] as string | undefined);
      return dispatch(snapshot, req, input, ctx, log);
    }).then(undefined, (err: unknown) => answerFailure(err, input, ctx, log));
  }
  return dispatch(snapshot, req, input, ctx, log);
}

/**
 * The route's stack opens with `rescue` (CompiledRoute.handler), so its promise goes back as it is:
 * no second catch, promise and microtask per request. What fails before a stack runs is answered here.
 */
function dispatch(snapshot: Snapshot, req: ProxyRequest, input: RouteInput, ctx: RequestContext, log: Logger): Promise<ProxyResponse> {
  const route = snapshot.route(ctx.direction, input);
  if (!route) return Promise.resolve(answerFailure(noRoute(req.host, input.path), input, ctx, log));
  ctx.route = route.name;
  try {
    return route.handler(req, ctx);
  } catch (err) {
    return Promise.resolve(answerFailure(err, input, ctx, log)); // a layer that throws is a bug: answered 500, never a crash of the edge
  }
}

/** A failure as the sidecar's answer; a gRPC request's in gRPC (SPEC §11). */
function answerFailure(err: unknown, input: RouteInput, ctx: RequestContext, log: Logger): ProxyResponse {
  return rescue(err, ctx, log, isGrpc(input.headers['content-type']));
}
