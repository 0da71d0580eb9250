/**
 * The one place errors become the sidecar's own responses (linkerd's `ServerRescue`): a `ProxyError`
 * (or the resilience module's twin, `ResilienceError`: breaker open, pool overflow) becomes its status
 * with `{"error", "flags"}` JSON — or, for a gRPC request, a trailers-only gRPC answer with the
 * flag's status (SPEC §11: UNAVAILABLE, DEADLINE_EXCEEDED, UNIMPLEMENTED, …); anything else is a
 * bug, answered 500 (gRPC INTERNAL) and logged.
 */
import type { Logger } from 'pino';
import { ProxyError } from '../core/errors.js';
import { ResilienceError } from '../resilience/index.js';
import { GrpcStatus, grpcAnswer, grpcStatusForFlag, isGrpc } from '../core/grpc.js';
import { addFlag, type Layer, type ProxyResponse, type RequestContext } from '../core/context.js';

export function rescue(err: unknown, ctx: RequestContext, log: Logger, grpc = false): ProxyResponse {
  if (err instanceof ProxyError || err instanceof ResilienceError) {
    addFlag(ctx, err.flag);
    if (err instanceof ProxyError) {
      if (err.transportFailure !== undefined) ctx.transportFailure = err.transportFailure;
      const answer = grpc ? grpcAnswer(grpcStatusForFlag(err.flag, err.status), err.message) : jsonError(err.status, err.message, ctx, err.body);
      if (err.headers) Object.assign(answer.headers, err.headers);
      return answer;
    }
    return grpc ? grpcAnswer(grpcStatusForFlag(err.flag, err.status), err.message) : jsonError(err.status, err.message, ctx);
  }
  log.error({ err, route: ctx.route, requestId: ctx.requestId }, 'unexpected error while proxying');
  return grpc ? grpcAnswer(GrpcStatus.INTERNAL, 'internal error in the sidecar') : jsonError(500, 'internal error in the sidecar', ctx);
}

export function jsonError(status: number, message: string, ctx: RequestContext, extra?: Readonly<Record<string, unknown>>): ProxyResponse {
  const body = Buffer.from(JSON.stringify({ error: message, flags: ctx.flags.join(','), ...extra }));
  return { status, headers: { 'content-type': 'application/json', 'content-length': String(body.length) }, body };
}

export const rescueLayer = (log: Logger): Layer => (next) => (req, ctx) => {
  let answer: Promise<ProxyResponse>;
  try {
    answer = next(req, ctx);
  } catch (err) {
    return Promise.resolve(rescue(err, ctx, log, isGrpc(req.headers['content-type'])));
  }
  return answer.then(undefined, (err: unknown) => rescue(err, ctx, log, isGrpc(req.headers['content-type'])));
};
