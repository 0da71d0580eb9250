/**
 * Sets the route's overall deadline; the engine enforces what remains of it on each try. A gRPC
 * client's own `grpc-timeout` (SPEC §11) bounds it further: past the client's deadline nobody waits
 * for the answer, so neither do the retries.
 */
import type { Layer } from '../core/context.js';
import { parseGrpcTimeout } from '../core/grpc.js';

export const timeoutLayer = (timeoutMs: number): Layer => (next) => (req, ctx) => {
  const header = req.headers['grpc-timeout'];
  const grpcMs = header === undefined ? undefined : parseGrpcTimeout(header);
  ctx.deadline = ctx.start + (grpcMs === undefined ? timeoutMs : Math.min(timeoutMs, grpcMs));
  return next(req, ctx);
};
