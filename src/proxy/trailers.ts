/**
 * Trailers ride on the response body they follow: an engine whose upstream sends trailers (HTTP/2:
 * gRPC's `grpc-status`, `grpc-message` and trailing metadata; HTTP/1.1: a chunked answer's trailer
 * section) hands them to `trailersArrived` when they arrive — before the body ends — and the edge
 * that writes the body sends them after it (the HTTP/2 edge's `wantTrailers`, an HTTP/1.1 client's
 * chunked trailer section, library mode's `onResponseEnd`). A `ProxyResponse` stays one shape, and a
 * layer that rebuilds the response around the same body keeps them.
 *
 * Whichever way they arrived, `forwardableTrailers` is the one filter they pass on their way out.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** The trailers' key on the body, and the event the body emits (synchronously) when they arrive. */
export const TRAILERS = Symbol('pilotfish.trailers');

export interface WithTrailers { [TRAILERS]?: IncomingHttpHeaders | undefined }

/** The trailers that came with `body`, if any have. */
export function trailersOf(body: object): IncomingHttpHeaders | undefined {
  return (body as WithTrailers)[TRAILERS];
}

/**
 * The upstream's trailers have arrived, before `body`'s end: they are kept on it, and whoever writes
 * an HTTP/1.1 answer (which must add them before it ends the response) hears it at once.
 */
export function trailersArrived(body: NodeJS.EventEmitter, trailers: IncomingHttpHeaders): void {
  (body as WithTrailers)[TRAILERS] = trailers;
  body.emit(TRAILERS, trailers);
}

/**
 * Fields no trailer section may carry, whatever version it is written in: hop-by-hop and
 * connection-specific ones (HTTP/2 refuses them outright) and those RFC 9110 §6.5.1 keeps out of
 * trailers — framing, routing, the content's type and coding.
 */
const NOT_TRAILERS: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer',
  'content-length', 'content-type', 'content-encoding', 'host', 'proxy-authenticate', 'proxy-authorization',
  'http2-settings',
]);

/** The trailers as they may be sent on: without those fields, nor pseudo-headers. */
export function forwardableTrailers(t: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in t) {
    if (NOT_TRAILERS.has(name) || name.charCodeAt(0) === 58 /* : */) continue;
    const v = t[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/**
 * `forwardableTrailers` for a writer that copies what it is given (node:http2's `sendTrailers`
 * does, into a null-prototype object, before it reads a field): the trailers themselves when no
 * field is to go — gRPC's `grpc-status`, `grpc-message` and metadata — with no copy of ours first.
 */
export function sendableTrailers(t: IncomingHttpHeaders): OutgoingHttpHeaders {
  for (const name in t) if (NOT_TRAILERS.has(name) || name.charCodeAt(0) === 58 /* : */) return forwardableTrailers(t);
  return t;
}
