/**
 * Header hygiene at the edge. http-proxy-3 strips almost nothing (LIBRARIES.md), so hop-by-hop headers
 * (RFC 9110 §7.6.1: Connection and every header it names, Keep-Alive, TE, Trailer, Transfer-Encoding,
 * Upgrade, Proxy-*) are removed here in both directions, and the forwarding headers are set here.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { XFCC } from '../core/context.js';

/**
 * The standard hop-by-hop names: connection, keep-alive, te, trailer, transfer-encoding, upgrade,
 * proxy-connection, proxy-authorization, proxy-authenticate. Asked for every header of every copy, so
 * by length and then by comparison — a few instructions, where a `Set` hashes and probes (~100).
 */
function isHopByHop(name: string): boolean {
  switch (name.length) {
    case 2: return name === 'te';
    case 7: return name === 'trailer' || name === 'upgrade';
    case 10: return name === 'connection' || name === 'keep-alive';
    case 16: return name === 'proxy-connection';
    case 17: return name === 'transfer-encoding';
    case 18: return name === 'proxy-authenticate';
    case 19: return name === 'proxy-authorization';
    default: return false;
  }
}

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
 * The request's headers without hop-by-hop ones: the same object when there are none (the common
 * case, nine absent-key probes), else a copy — the caller installs it as `req.headers`, the object
 * http-proxy-3 copies. A chunked request body keeps `transfer-encoding: chunked` so Node re-frames it
 * for the next hop: dropping it would leave a body without framing on methods Node does not chunk by
 * default. `expect` goes too: Node's server already answered `100 Continue` to the client. So does
 * any `x-forwarded-client-cert` a client sent (SPEC §12): only the sidecar that terminated the
 * peer's mutual TLS may say who the peer is, and it sets its own (pipeline/authorize.ts).
 */
export function cleanRequestHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  if (!hasHopByHop(headers) && headers.expect === undefined && headers[XFCC] === undefined) return headers;
  const chunked = headers['transfer-encoding'] !== undefined && headers['content-length'] === undefined;
  const clean = withoutHopByHop(headers, connectionTokens(headers.connection), 'expect', XFCC) as IncomingHttpHeaders;
  if (chunked) clean['transfer-encoding'] = 'chunked';
  return clean;
}

/**
 * Response headers without hop-by-hop ones (the same object when there are none). The object is the
 * upstream response's own (or one the sidecar built), used once, for this answer only.
 */
export function cleanResponseHeaders(headers: IncomingHttpHeaders | OutgoingHttpHeaders): OutgoingHttpHeaders {
  const h = headers as OutgoingHttpHeaders;
  if (!hasHopByHop(h)) return h;
  return withoutHopByHop(h, connectionTokens(h.connection), undefined, undefined) as OutgoingHttpHeaders;
}

/** A response head as `res.writeHead` takes it: name, value, name, value, … */
export type HeadList = Array<string | number | string[]>;

/**
 * The head of an HTTP/1.1 answer for `res.writeHead`, as a flat list in one pass over the response's
 * headers: hop-by-hop ones dropped, `x-pilotfish-flags` set to `flags` when there are any (in the
 * place of an upstream's, else last), then `connection: close` when `close`. The same pairs in the
 * same order as the cleaned object with those two set, but node:http walks a list with an index
 * where it walks an object with `for…in` and a `hasOwn` per name, and the copy is pushes where it was
 * keyed stores into a new object (megamorphic, a map transition per name). The response's own
 * object is left as it is.
 */
export function responseHead(headers: IncomingHttpHeaders | OutgoingHttpHeaders, flags: string, close: boolean): HeadList {
  const h = headers as OutgoingHttpHeaders;
  const named = h.connection === undefined ? NO_TOKENS : connectionTokens(h.connection);
  const out: HeadList = [];
  let flagged = flags === '';
  for (const name in h) {
    const value = h[name];
    if (value === undefined || isHopByHop(name) || (named.length > 0 && named.includes(name))) continue;
    if (name === FLAGS && !flagged) {
      out.push(name, flags);
      flagged = true;
    } else {
      out.push(name, value);
    }
  }
  if (!flagged) out.push(FLAGS, flags);
  if (close) out.push('connection', 'close');
  return out;
}

const FLAGS = 'x-pilotfish-flags';

function hasHopByHop(h: Record<string, unknown>): boolean {
  return h.connection !== undefined || h['keep-alive'] !== undefined || h['transfer-encoding'] !== undefined
    || h.te !== undefined || h.trailer !== undefined || h.upgrade !== undefined
    || h['proxy-connection'] !== undefined || h['proxy-authorization'] !== undefined || h['proxy-authenticate'] !== undefined;
}

/**
 * A copy rather than `delete` in place: deleting drops the object into dictionary mode, and a walk
 * that deletes as it goes cost ~7 µs per call in the bench profile; every later walk of the object
 * (http-proxy-3's spread, Node's header serialisation) paid for it again.
 */
function withoutHopByHop(h: Record<string, unknown>, named: readonly string[], also: string | undefined, also2: string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name in h) {
    if (isHopByHop(name) || name === also || name === also2 || (named.length > 0 && named.includes(name))) continue;
    out[name] = h[name];
  }
  return out;
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
