/**
 * Header hygiene at the edge. http-proxy-3 strips almost nothing (LIBRARIES.md), so hop-by-hop headers
 * (RFC 9110 §7.6.1: Connection and every header it names, Keep-Alive, TE, Trailer, Transfer-Encoding,
 * Upgrade, Proxy-*) are removed here in both directions, and the forwarding headers are set here.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'proxy-connection', 'proxy-authorization', 'proxy-authenticate',
]);

const NO_TOKENS: readonly string[] = [];

/** Names listed in `Connection` (lower-cased), which are hop-by-hop too. */
function connectionTokens(value: string | string[] | number | undefined): readonly string[] {
  if (value === undefined || typeof value === 'number') return NO_TOKENS;
  // The common values name nothing beyond the standard set: skip the split on the hot path.
  if (value === 'keep-alive' || value === 'close' || value === 'Keep-Alive' || value === 'Close') return NO_TOKENS;
  const text = Array.isArray(value) ? value.join(',') : value;
  return text.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean);
}

/**
 * Removes hop-by-hop headers from a request's headers in place (they are the object http-proxy-3
 * copies). A chunked request body keeps `transfer-encoding: chunked` so Node re-frames it for the
 * next hop: dropping it would leave a body without framing on methods Node does not chunk by default.
 * `expect` goes too: Node's server already answered `100 Continue` to the client.
 */
export function cleanRequestHeaders(headers: IncomingHttpHeaders): void {
  const chunked = headers['transfer-encoding'] !== undefined && headers['content-length'] === undefined;
  for (const name of connectionTokens(headers.connection)) delete headers[name];
  stripHopByHop(headers);
  if (headers.expect !== undefined) delete headers.expect;
  if (chunked) headers['transfer-encoding'] = 'chunked';
}

/**
 * Removes hop-by-hop headers from response headers in place. The object is the upstream response's
 * own (or one the sidecar built), used once, for this answer only.
 */
export function cleanResponseHeaders(headers: IncomingHttpHeaders | OutgoingHttpHeaders): OutgoingHttpHeaders {
  const h = headers as OutgoingHttpHeaders;
  for (const name of connectionTokens(h.connection)) delete h[name];
  stripHopByHop(h);
  return h;
}

/** Walks the (few) header names present rather than probing for each of the nine hop-by-hop ones. */
function stripHopByHop(h: Record<string, unknown>): void {
  for (const name in h) if (HOP_BY_HOP.has(name)) delete h[name];
}

const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Sets the forwarding headers as an Envoy sidecar does: the peer address is appended to
 * `x-forwarded-for`, `x-forwarded-proto` and `x-forwarded-host` are kept when an earlier hop set them
 * (it saw the original scheme and host) and set otherwise, and a sane `x-request-id` is kept while a
 * missing or malformed one is replaced. Returns the request id.
 */
export function setForwardingHeaders(headers: IncomingHttpHeaders, peer: string | undefined, host: string): string {
  if (peer) {
    const addr = peer.startsWith('::ffff:') ? peer.slice(7) : peer;
    const prior = headers['x-forwarded-for'];
    headers['x-forwarded-for'] = prior ? `${prior}, ${addr}` : addr;
  }
  headers['x-forwarded-proto'] ??= 'http';
  headers['x-forwarded-host'] ??= host;
  let id = headers['x-request-id'];
  if (typeof id !== 'string' || !REQUEST_ID.test(id)) headers['x-request-id'] = id = randomUUID();
  return id;
}
