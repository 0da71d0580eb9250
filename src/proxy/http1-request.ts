/**
 * The `ProxyRequest` of the HTTP/1 edge: a node:http request/response pair seen through the
 * edge-neutral interface (core/context.ts). One object per request: the body is the
 * `IncomingMessage`, the peer its socket, and the downstream's close is the response's 'close'.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Http1Exchange, Peer, ProxyRequest } from '../core/context.js';

export class Http1Request implements ProxyRequest, Http1Exchange {
  body: Buffer | undefined = undefined;
  bodyStream: Readable | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  /** Kept from arrival: node:http may detach `raw.socket` once the exchange is torn down. */
  private readonly socket: Socket;

  constructor(
    readonly raw: IncomingMessage,
    readonly res: ServerResponse,
    readonly method: string,
    public host: string,
    public path: string,
    readonly headers: IncomingHttpHeaders,
  ) {
    this.socket = raw.socket;
  }

  get source(): Readable { return this.raw; }
  get peer(): Peer { return this.socket; }
  get http1(): Http1Exchange { return this; }

  get downstreamGone(): boolean {
    const res = this.res;
    return !res.writableFinished && (res.destroyed || this.socket.destroyed);
  }

  // `on`, not `once`: 'close' comes once anyway, and `once` allocates a wrapper per call.
  onDownstreamClose(fn: () => void): void { this.res.on('close', fn); }
  offDownstreamClose(fn: () => void): void { this.res.off('close', fn); }
}
