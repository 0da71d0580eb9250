/**
 * What both forwarding engines share about one attempt: its timer, settling exactly once, and what
 * each outcome becomes — the upstream response, UT on the timer, DC when the client left, one replay
 * of an idempotent request on a stale pooled socket, else UF (connect) or UC (reset). An engine says
 * how to clean up after settling and how to send the replay.
 */
import type http from 'node:http';
import type { ProxyRequest, ProxyResponse } from '../core/context.js';
import { connectFailure, downstreamDisconnect, isConnectError, upstreamReset, upstreamTimeout, type ProxyError } from '../core/errors.js';
import { replayable, STALE_SOCKET, type Attempt } from './engine.js';

export abstract class AttemptCall {
  /** The attempt's upstream request once made. */
  proxyReq: http.ClientRequest | undefined;
  protected settled = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly req: ProxyRequest,
    readonly attempt: Attempt,
    readonly replay: boolean,
    protected readonly resolve: (r: ProxyResponse) => void,
    protected readonly reject: (e: ProxyError) => void,
  ) {
    this.timer = setTimeout(onTimeout, Math.max(1, attempt.timeoutMs), this);
  }

  /** The engine's own cleanup once the call has settled. */
  protected abstract released(): void;
  /** Sends the same request once more, as a replay (nothing reached the upstream). */
  protected abstract again(): void;

  /** Settles once: false when the call had already settled. */
  protected settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    clearTimeout(this.timer);
    this.released();
    return true;
  }

  onResponse(res: http.IncomingMessage): void {
    if (!this.settle()) { res.destroy(); return; }
    res.on('error', noop); // the consumer attaches its own; never let one go unhandled
    this.resolve({ status: res.statusCode ?? 502, headers: res.headers, body: res });
  }

  onTimeout(): void {
    if (!this.settle()) return;
    this.proxyReq?.destroy();
    this.reject(upstreamTimeout(this.attempt.target.host, this.attempt.timeoutMs));
  }

  onError(err: Error): void {
    if (!this.settle()) return;
    const { req } = this;
    if (req.res.destroyed || req.raw.socket.destroyed) return this.reject(downstreamDisconnect());
    const code = (err as NodeJS.ErrnoException).code ?? '';
    // The upstream closed a pooled socket as we reused it: nothing reached it, send again once.
    if (!this.replay && this.proxyReq?.reusedSocket && STALE_SOCKET.has(code) && replayable(req)) return this.again();
    const target = this.attempt.target.host;
    this.reject(isConnectError(err) ? connectFailure(target, err) : upstreamReset(target, err));
  }
}

function onTimeout(call: AttemptCall): void {
  call.onTimeout();
}

function noop(): void {}
