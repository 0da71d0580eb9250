/**
 * Cluster warming (docs/data-plane.md "Cluster warming"): as a new snapshot is swapped in, each
 * upstream it newly routes to — a destination or mirror no route of the serving snapshot sent to, or
 * one whose upstream state is new (created, or changed, by this reload) — gets a connection opened to
 * each eligible endpoint that has none, so the first requests on the new policy find one being made
 * or made. Nothing waits for those connects: the swap is never delayed, a request that comes first
 * waits on the connect already under way instead of starting its own, and a connect that fails only
 * does not warm (the first request then connects, and fails, as it would have).
 */
import type { Policy } from '../config/index.js';
import type { UpstreamState } from '../upstreams/index.js';

interface Destination {
  readonly upstream: string;
  readonly subset: string | undefined;
}

/**
 * Every upstream (and subset) the policy's routes send to: their destinations with a weight (a
 * destination at 0 of a split takes nothing; raising it routes to it newly) and their mirrors. A
 * route without `to` goes to the app, always routable.
 */
function destinations(policy: Policy): Destination[] {
  const out: Destination[] = [];
  for (const route of policy.routes) {
    const to = route.to ?? [];
    for (const d of to) if (to.length === 1 || (d.weight ?? 0) > 0) out.push({ upstream: d.upstream, subset: d.subset });
    if (route.mirror) out.push({ upstream: route.mirror.upstream, subset: undefined });
  }
  return out;
}

const keyOf = (d: Destination): string => `${d.upstream}\0${d.subset ?? ''}`;

/**
 * Starts connections to what `next` newly routes to, against `serving` (`states`: the committed
 * plan's; `created`: the upstreams whose state that plan made). Each engine skips endpoints that
 * already have a connection.
 */
export function warmNewlyRouted(serving: Policy, next: Policy, states: ReadonlyMap<string, UpstreamState>, created: readonly string[]): void {
  const before = new Set(destinations(serving).map(keyOf));
  const fresh = new Set(created);
  for (const d of destinations(next)) {
    const state = states.get(d.upstream);
    if (state !== undefined && (!before.has(keyOf(d)) || fresh.has(d.upstream))) state.warm(d.subset);
  }
}
