/**
 * The top of a route's core: the sticky key (if any), then the destination by weight. A sticky
 * request's bucket is `hash(route, key) % 100`, so the same user keeps its destination and raising a
 * canary's weight only ever moves users onto it. Destinations with no healthy, non-ejected endpoint
 * leave the split and the rest are renormalised over the same bucket; none left is 503 `UH`.
 */
import type { Handler, ProxyResponse } from '../core/context.js';
import type { DestinationDecision } from '../core/snapshot.js';
import { noHealthyUpstream } from '../core/errors.js';
import { compileStickyKey, formatLocality, localityBucket, stickyBucket, type Split, type StickyPolicy } from '../routing/index.js';
import { NO_TRIED } from './attempt.js';
import { pickEndpoint } from './endpoint-pick.js';
import type { UpstreamState } from '../upstreams/index.js';

export interface DestinationStack {
  readonly upstream: UpstreamState;
  readonly subset: string | undefined;
  readonly handler: Handler;
}

export function destinationHandler(route: string, split: Split<DestinationStack>, sticky: StickyPolicy | undefined): Handler {
  const stickyKey = sticky ? compileStickyKey(sticky) : undefined;
  return (req, ctx) => {
    let bucket: number | undefined;
    let setCookie: string | undefined;
    if (stickyKey) {
      const k = stickyKey({ headers: req.headers, sourceIp: req.peer.remoteAddress });
      if (k) {
        ctx.hashKey = k.key;
        bucket = stickyBucket(route, k.key);
        setCookie = k.setCookie;
      }
    }
    bucket ??= Math.random() * 100;
    const dest = choose(split, bucket);
    if (!dest) return Promise.reject(noHealthyUpstream(`route ${route}`));
    ctx.upstream = dest.upstream.name;
    ctx.subset = dest.subset ?? '';
    if (!setCookie) return dest.handler(req, ctx);
    const cookie = setCookie;
    return dest.handler(req, ctx).then((resp) => { appendSetCookie(resp, cookie); return resp; });
  };
}

function usable(d: DestinationStack): boolean {
  return d.upstream.eligible(d.subset).length > 0;
}

/** The split's pick when it can serve; else a pick over the destinations that can, renormalised. */
export function choose(split: Split<DestinationStack>, bucket: number): DestinationStack | undefined {
  const first = split.pick(bucket);
  if (usable(first)) return first;
  const alive = split.destinations.filter((d) => d.weight > 0 && usable(d.value));
  if (alive.length === 0) return undefined;
  const total = alive.reduce((s, d) => s + d.weight, 0);
  let x = (bucket / 100) * total;
  for (const d of alive) { if (x < d.weight) return d.value; x -= d.weight; }
  return alive[alive.length - 1]!.value;
}

function appendSetCookie(resp: ProxyResponse, cookie: string): void {
  const h = resp.headers as Record<string, string | string[] | number | undefined>;
  const prior = h['set-cookie'];
  h['set-cookie'] = prior === undefined ? [cookie] : Array.isArray(prior) ? [...prior, cookie] : [String(prior), cookie];
}

/** What `destinationHandler` would decide for a request, for explain (nothing is sent). */
export function describeDestination(split: Split<DestinationStack>, sticky: StickyPolicy | undefined, route: string,
  headers: Readonly<Record<string, string | string[] | undefined>>, sourceIp: string | undefined): DestinationDecision {
  const list = split.destinations.map((d) => {
    const { upstream, subset } = d.value;
    const view = upstream.localityView(subset);
    const self = upstream.def.locality?.self;
    return {
      upstream: upstream.name, subset: subset ?? null, weight: d.weight,
      endpoints: upstream.membersOf(subset).map((e) => e.address),
      eligible: upstream.eligible(subset).map((e) => e.address),
      ...(view ? { locality: { self: self ? formatLocality(self) : null, tiers: view.describe() } } : {}),
    };
  });
  if (!sticky) return { split: list };
  const k = compileStickyKey(sticky, { newSessionId: () => '(new session)' })({ headers, sourceIp });
  if (!k) return { split: list, sticky: { key: null, bucket: null, destination: null, endpoint: null, setsCookie: false } };
  const bucket = stickyBucket(route, k.key);
  const dest = choose(split, bucket);
  // The pick the first try would make for this key (a remembered cookie session aside).
  const endpoint = dest ? pickEndpoint(dest.upstream, dest.subset, k.key, NO_TRIED) : undefined;
  const view = dest?.upstream.localityView(dest.subset);
  const tier = view ? view.tierFor(localityBucket(k.key)) : undefined;
  return {
    split: list,
    sticky: {
      key: k.key, bucket, destination: dest ? (dest.subset ? `${dest.upstream.name}/${dest.subset}` : dest.upstream.name) : null,
      endpoint: endpoint?.address ?? null, setsCookie: k.setCookie !== undefined,
      ...(view && tier !== undefined ? { tier: tier < 0 ? null : view.describe()[tier]!.tier } : {}),
    },
  };
}
