/**
 * A `ProxyRequest` with no client connection behind it: a mirrored copy (the shadow of a request).
 * Its body is a buffer (or none), no one can leave, and it carries no node:http handle. (Library
 * mode's calls can be left by their caller: mesh/mesh-request.ts.)
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { NO_PEER, type Peer, type ProxyRequest } from './context.js';

export class DetachedRequest implements ProxyRequest {
  bodyStream: Readable | undefined = undefined;
  /** `http2` for the copy of a request that came in over HTTP/2 (an upstream's `protocol: downstream` follows it). */
  protocol: 'http2' | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  readonly downstreamGone = false;
  readonly http1 = undefined;
  private stream: Readable | undefined;

  constructor(
    readonly method: string,
    public host: string,
    public path: string,
    readonly headers: IncomingHttpHeaders,
    public body: Buffer | undefined,
    readonly peer: Peer = NO_PEER,
  ) {}

  /** Engines send `body` when it is set; the stream exists only for one that asks. */
  get source(): Readable {
    return (this.stream ??= Readable.from(this.body ? [this.body] : []));
  }

  onDownstreamClose(): void {}
  offDownstreamClose(): void {}
}
