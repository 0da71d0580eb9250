/**
 * Writes a `ProxyResponse` to the client. Upstream bodies stream through `relay` (pipeline semantics,
 * see relay.ts), so a slow client back-pressures the upstream, a client that leaves destroys the upstream response, and an
 * upstream that dies mid-body destroys the client's socket: a truncated body is never presented as
 * complete (no terminating chunk, or fewer bytes than Content-Length).
 *
 * An upstream's trailers (an HTTP/2 upstream's, riding on the body: trailers.ts) reach an HTTP/1.1
 * client that said `TE: trailers`, in the chunked encoding's trailer section; without it they are
 * dropped (RFC 9110 §6.5: the client did not say it would take them — Envoy drops them too).
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { addFlag, type ProxyResponse, type RequestContext } from '../core/context.js';
import { responseHead } from './headers.js';
import { relay } from './relay.js';
import { trailersOf } from './trailers.js';

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

/** Fields no trailer section may carry (framing, routing, hop-by-hop: RFC 9110 §6.5.1). */
const NOT_TRAILERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'te', 'trailer', 'host', 'content-type', 'content-encoding']);

/**
 * The upstream's trailers have arrived by the body's end (the HTTP/2 engine sets them first): they
 * are added before `relay`'s pipe ends the response — its 'end' listener comes after this one. Node
 * writes them only in a chunked response (a `content-length` answer has no trailer section).
 */
function forwardTrailers(body: Readable, res: ServerResponse): void {
  body.once('end', () => {
    const t = trailersOf(body);
    if (t === undefined) return;
    const out: OutgoingHttpHeaders = {};
    for (const name in t) if (!NOT_TRAILERS.has(name) && name.charCodeAt(0) !== 58 /* : */) out[name] = t[name];
    try { res.addTrailers(out); } catch { /* a value Node refuses: the answer goes without its trailers */ }
  });
}
