/**
 * The endpoint pick of one try: the upstream's balancer over the endpoints eligible now. With
 * locality (SPEC §5) the request first falls into a tier — by a random bucket, or for a sticky key
 * by the key's locality bucket so the key keeps its tier — and the tier's own balancer picks among
 * the tier's eligible endpoints. Sticky cookies remember session → endpoint over the whole
 * destination: a session stays on its endpoint while that endpoint is eligible, whichever tier it is in.
 */
import { localityBucket } from '../routing/index.js';
import type { Endpoint, UpstreamState } from '../upstreams/index.js';

/** Cookie stickiness: remember session → endpoint of this route for this long (ms). */
export interface AffinitySpec { readonly route: string; readonly ttlMs: number }

/**
 * The endpoint for this try; undefined when none is eligible (the caller answers 503 `UH`).
 * `key`: the sticky key, when the route is sticky and the request carries one; `tried`: endpoints
 * this request already tried (a retry prefers another). Positional, so a try allocates no options.
 */
export function pickEndpoint(upstream: UpstreamState, subset: string | undefined, key: string | undefined, tried: ReadonlySet<string>,
  affinity?: AffinitySpec, random: () => number = Math.random): Endpoint | undefined {
  const sticky = key !== undefined;
  const exclude = tried.size === 0 ? undefined : tried;
  const all = upstream.eligible(subset);
  const view = upstream.localityView(subset);
  let list = all;
  let lb;
  if (view === undefined) {
    lb = upstream.balancer(subset, sticky);
  } else {
    const tier = view.tierFor(sticky ? localityBucket(key) : random() * 100, exclude);
    list = view.eligible(tier);
    lb = upstream.tierBalancer(subset, tier, sticky);
  }
  const pickCtx = sticky ? { exclude: tried, hashKey: key } : exclude === undefined ? undefined : { exclude };
  if (!sticky || affinity === undefined) return lb.pick(list, pickCtx);
  return upstream.affinity(affinity.route, subset, affinity.ttlMs).resolve(key, all, () => lb.pick(list, pickCtx), exclude);
}
