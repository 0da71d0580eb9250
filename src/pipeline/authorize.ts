/**
 * The first layer of every inbound route, under rescue (SPEC §12): the snapshot's authorization
 * decides before anything that costs (rate-limit buckets, buffering, the upstream), and a refusal
 * is a `ProxyError` — 403 `AD` with the deciding rule in its JSON body, through the one `rescue`
 * (a gRPC edge answers PERMISSION_DENIED from the same error). An admitted request from a mutual-TLS
 * peer carries the peer's identity to the app in `x-forwarded-client-cert` (the edge has already
 * dropped any the client sent).
 */
import type { AuthzInput, Authorizer } from '../authz/index.js';
import { XFCC, type Layer, type ProxyRequest } from '../core/context.js';
import { accessDenied } from '../core/errors.js';
import type { ProxyEvents } from '../core/events.js';

/** `pilotfish_authz_denied_total{policy}` when no allow rule matched (no rule by name decided). */
export const NO_ALLOW_MATCH = '(no allow rule matched)';

export const authorizeLayer = (authorizer: Authorizer | undefined, events: ProxyEvents): Layer => (next) => (req, ctx) => {
  const identity = req.peer.peerIdentity;
  if (authorizer !== undefined) {
    const decision = authorizer.decide(authzInput(req));
    if (!decision.allowed) {
      events.authzDenied(decision.rule ?? NO_ALLOW_MATCH);
      return Promise.reject(accessDenied(decision.rule, `access denied: ${decision.reason}`));
    }
  }
  if (identity !== undefined) req.headers[XFCC] = identity.xfcc;
  return next(req, ctx);
};

/** What authorization reads of a request. */
export function authzInput(req: ProxyRequest): AuthzInput {
  const identity = req.peer.peerIdentity;
  return {
    principal: identity?.spiffeId,
    namespace: identity?.namespace,
    sourceIp: req.peer.remoteAddress,
    method: req.method,
    path: req.path,
    port: authorityPort(req.host),
  };
}

/**
 * The destination port a request names: its authority's port, else 80. Inbound, every request is
 * forwarded to the one app, and a captured connection's original destination port cannot be read
 * in Node (no SO_ORIGINAL_DST): the authority is what the client addressed (docs/mtls.md).
 */
export function authorityPort(host: string): number {
  const bracket = host.lastIndexOf(']');
  const colon = host.lastIndexOf(':');
  if (colon <= bracket) return 80;
  const port = Number(host.slice(colon + 1));
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : 80;
}
