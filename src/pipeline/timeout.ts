/** Sets the route's overall deadline; the engine enforces what remains of it on each try. */
import type { Layer } from '../core/context.js';

export const timeoutLayer = (timeoutMs: number): Layer => (next) => (req, ctx) => {
  ctx.deadline = ctx.start + timeoutMs;
  return next(req, ctx);
};
