/**
 * The client-gone signal of a request, made on first use: only requests that wait (a queue for a
 * connection slot, a retry backoff) need one, so the common path allocates no AbortController.
 */
import type { ProxyRequest } from '../core/context.js';
import { downstreamDisconnect } from '../core/errors.js';

export function clientSignal(req: ProxyRequest): AbortSignal {
  if (req.signal) return req.signal;
  const controller = new AbortController();
  if (req.downstreamGone) controller.abort(downstreamDisconnect());
  else req.onDownstreamClose(() => { if (req.downstreamGone) controller.abort(downstreamDisconnect()); });
  return (req.signal = controller.signal);
}

/** A delay that ends early (rejecting) when `signal` aborts. */
export function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(timer); reject(signal!.reason); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
