/**
 * What every engine shares about one attempt: its timer, settling exactly once, and what each
 * outcome becomes — the upstream response, UT on the timer, DC when the client left, one replay of
 * an idempotent request on a stale pooled connection, else UF (connect) or UC (reset). An engine
 * says how to cancel its upstream request, whether the connection it used had served before, how to
 * clean up after settling, and how to send the replay.
 */
import type http from 'node:http';
import type { ProxyRequest, ProxyResponse } from '../core/context.js';
import { connectFailure, downstreamDisconnect, isConnectError, upstreamReset, upstreamTimeout, type ProxyError } from '../core/errors.js';
import { Deadline, tryDeadlines } from '../resilience/index.js';
import { replayable, STALE_SOCKET, type Attempt } from './engine.js';
import { trailersArrived } from './trailers.js';

/** The per-try timer is an entry of the shared deadline queue, not a Node `Timeout` of its own. */
export abstract class AttemptCall extends Deadline {
  protected settled = false;

  constructor(
    readonly req: ProxyRequest,
    readonly attempt: Attempt,
    readonly replay: boolean,
    protected readonly resolve: (r: ProxyResponse) => void,
    protected readonly reject: (e: ProxyError) => void,
  ) {
    super();
    // Whole milliseconds: the queue keeps one list per distinct duration, and the time left of a
    // route deadline is fractional — a new list (and a timer) for nearly every try.
    tryDeadlines.add(this, Math.max(1, Math.ceil(attempt.timeoutMs)));
  }

  expire(): void {
    this.onTimeout();
  }

  /** Stops the upstream request (timer fired, client left): its connection is not reused. */
  protected abstract cancel(): void;
  /** True when the request went out on a pooled connection that had already carried a response. */
  protected abstract reusedConnection(): boolean;
  /** The engine's own cleanup once the call has settled. */
  protected abstract released(): void;
  /** Sends the same request once more, as a replay (nothing reached the upstream). */
  protected abstract again(): void;

  /** Settles once: false when the call had already settled. */
  protected settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    tryDeadlines.remove(this);
    this.released();
    return true;
  }

  onTimeout(): void {
    if (!this.settle()) return;
    this.cancel();
    this.reject(upstreamTimeout(this.attempt.target.host, this.attempt.timeoutMs));
  }

  /** The client left before the upstream answered: nothing will read this answer. */
  onClientGone(): void {
    if (!this.settle()) return;
    this.cancel();
    this.reject(downstreamDisconnect());
  }

  onError(err: Error): void {
    if (!this.settle()) return;
    const { req } = this;
    if (req.downstreamGone) return this.reject(downstreamDisconnect());
    const code = (err as NodeJS.ErrnoException).code ?? '';
    // The upstream closed a pooled connection as we reused it: nothing reached it, send again once.
    if (!this.replay && STALE_SOCKET.has(code) && this.reusedConnection() && replayable(req)) return this.again();
    const target = this.attempt.target.host;
    this.reject(isConnectError(err) ? connectFailure(target, err) : upstreamReset(target, err));
  }
}

/**
 * An attempt on a connection of the engine's own pool (the undici and HTTP/2 engines): it listens for
 * the client leaving itself, and its pool tells it whether the connection had served before.
 */
export abstract class PooledCall extends AttemptCall {
  /** Set by the engine once the request is on a connection: whether that connection had served. */
  protected reused = false;
  protected readonly clientGone = (): void => this.onClientGone();

  protected reusedConnection(): boolean {
    return this.reused;
  }

  protected released(): void {
    this.req.offDownstreamClose(this.clientGone);
  }
}

/** An attempt as one node:http `ClientRequest` (the `node` and `http-proxy-3` engines). */
export abstract class ClientRequestCall extends AttemptCall {
  /** The attempt's upstream request once made. */
  proxyReq: http.ClientRequest | undefined;

  protected cancel(): void {
    this.proxyReq?.destroy();
  }

  protected reusedConnection(): boolean {
    return this.proxyReq?.reusedSocket === true;
  }

  onResponse(res: http.IncomingMessage): void {
    if (!this.settle()) { res.destroy(); return; }
    res.on('error', noop); // the consumer attaches its own; never let one go unhandled
    // Only a chunked answer has a trailer section; node:http has parsed it by 'end' — this listener
    // comes before any consumer's, so they arrive before a pipe ends the client's response.
    if (res.headers['transfer-encoding'] !== undefined) res.once('end', () => { if (res.rawTrailers.length > 0) trailersArrived(res, res.trailers); });
    this.resolve({ status: res.statusCode ?? 502, headers: res.headers, body: res });
  }
}

function noop(): void {}
