/**
 * Writes a `ProxyResponse` to the client. Upstream bodies stream through `relay` (pipeline semantics,
 * see relay.ts), so a slow client back-pressures the upstream, a client that leaves destroys the upstream response, and an
 * upstream that dies mid-body destroys the client's socket: a truncated body is never presented as
 * complete (no terminating chunk, or fewer bytes than Content-Length).
 *
 * An upstream's trailers (an HTTP/2 upstream's, or an HTTP/1.1 upstream's chunked trailer section,
 * riding on the body: trailers.ts) reach an HTTP/1.1 client that said `TE: trailers`, in the chunked
 * encoding's trailer section; without it they are dropped (RFC 9110 §6.5: the client did not say it
 * would take them — Envoy drops them too).
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { addFlag, type ProxyResponse, type RequestContext } from '../core/context.js';
import { responseHead } from './headers.js';
import { relay } from './relay.js';
import { forwardableTrailers, TRAILERS, trailersOf } from './trailers.js';

/** `trailers`: the client said `TE: trailers` (`takesTrailers`), so an upstream's trailers go to it. */
export function writeResponse(res: ServerResponse, resp: ProxyResponse, ctx: RequestContext, closeConnection: boolean, done: () => void, trailers = false): void {
  if (res.destroyed) {
    if (!Buffer.isBuffer(resp.body)) resp.body.destroy();
    addFlag(ctx, 'DC');
    done();
    return;
  }
  res.writeHead(resp.status, responseHead(resp.headers, ctx.flags.length === 0 ? '' : ctx.flags.join(','), closeConnection));
  if (Buffer.isBuffer(resp.body)) {
    res.end(resp.body);
    done();
    return;
  }
  if (trailers) forwardTrailers(resp.body, res);
  relay(resp.body, res, (err) => {
    // Either side may have ended it: the upstream's stream errored (reset mid-body), or the client left.
    if (err) addFlag(ctx, (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE' ? 'DC' : 'UC');
    done();
  });
}

/** The client's `TE` (read before hop-by-hop headers are cleaned) lists `trailers`: it takes a trailer section. */
export function takesTrailers(te: string | string[] | undefined): boolean {
  return te !== undefined && /(?:^|,)\s*trailers\s*(?:[;,]|$)/i.test(Array.isArray(te) ? te.join(',') : te);
}

/**
 * The upstream's trailers arrive before the body's end (`trailersArrived`) — already, for an answer
 * read whole before it is written — so they are added before the response is ended, by `relay`'s
 * pipe or by a direct body's own `end`. Node writes them only in a chunked response (a
 * `content-length` answer has no trailer section).
 */
function forwardTrailers(body: Readable, res: ServerResponse): void {
  const add = (t: IncomingHttpHeaders): void => {
    try { res.addTrailers(forwardableTrailers(t)); } catch { /* a value Node refuses: the answer goes without its trailers */ }
  };
  const arrived = trailersOf(body);
  if (arrived !== undefined) add(arrived);
  else body.once(TRAILERS, add);
}
