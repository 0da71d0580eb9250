/**
 * The seam for shared sticky sessions (`sticky.cookie.shared`, SPEC §9): session → endpoint kept in
 * a store every sidecar of a fleet shares, so a session reaches the same endpoint through any of
 * them, and is remapped once for the whole fleet when its endpoint leaves. Type-only: the routing
 * core stays pure; the fleet (src/fleet/shared-sessions.ts) implements it over Redis.
 */
import type { BalancerEndpoint } from './balancers/load-balancer.js';

export interface SessionQuery<E extends BalancerEndpoint> {
  /** What the session is scoped to: route and destination (a key means nothing across upstreams). */
  readonly scope: string;
  /** The session key (the cookie's value). */
  readonly key: string;
  /** How long an idle session keeps its endpoint (ms): the cookie's ttl. */
  readonly ttlMs: number;
  /** The endpoints that may take traffic now (healthy, not ejected). */
  readonly eligible: readonly E[];
  /** A new endpoint by the upstream's own balancer (least-request, …), avoiding `avoid`. */
  readonly pick: (avoid?: ReadonlySet<string>) => E | undefined;
  /** The consistent-hash choice over `eligible`: what serves while the store cannot be reached. */
  readonly fallback: () => E | undefined;
  /** Endpoints this request already tried (a retry): passed over for this try, the session kept. */
  readonly tried?: ReadonlySet<string> | undefined;
}

export interface SharedSessionStore {
  /** The session's endpoint among `eligible` (undefined only when `eligible` is empty). Never rejects. */
  resolve<E extends BalancerEndpoint>(q: SessionQuery<E>): Promise<E | undefined>;
}
