/**
 * Trailers ride on the response body they follow: an engine whose upstream sends trailers (HTTP/2:
 * gRPC's `grpc-status`, `grpc-message` and trailing metadata) sets them on the body stream under
 * this symbol when they arrive — before the body's end — and the edge that writes the body sends
 * them after it (the HTTP/2 edge's `wantTrailers`). A `ProxyResponse` stays one shape, and a layer
 * that rebuilds the response around the same body keeps them.
 */
import type { IncomingHttpHeaders } from 'node:http';

export const TRAILERS = Symbol('pilotfish.trailers');

export interface WithTrailers { [TRAILERS]?: IncomingHttpHeaders | undefined }

/** The trailers that came with `body`, if any have. */
export function trailersOf(body: object): IncomingHttpHeaders | undefined {
  return (body as WithTrailers)[TRAILERS];
}
