/**
 * Ring hash (Karger-style consistent hashing, as Envoy's `RING_HASH`): each endpoint owns many
 * virtual nodes — points on a 32-bit ring at hash(address, i) — and a key goes to the owner of the
 * first point at or after hash(key), wrapping around.
 *
 * Each endpoint keeps the same number of points whatever the membership (up to `maxRingSize`), and
 * its points depend only on its address. So when one of N endpoints leaves, exactly the keys that
 * landed on its points move and no other key does (Envoy scales points per host with the host count,
 * which shuffles keys between the survivors too). A retry walks on clockwise to the next point of an
 * endpoint not yet tried.
 */
import { hash32, indexedHashes32 } from '../hash.js';
import { MembershipCache } from './membership-cache.js';
import type { BalancerEndpoint, LoadBalancer, PickContext } from './load-balancer.js';

export interface RingHashOptions {
  /** Virtual nodes per endpoint. Default 1024: a 1/√1024 ≈ 3 % spread of shares. */
  readonly pointsPerEndpoint?: number;
  /** Fewest points on the ring; small memberships get more points each. Default 1024 (SPEC §5). */
  readonly minRingSize?: number;
  /**
   * Most points on the ring, bounding build time and memory: with more than max/perEndpoint
   * endpoints each gets ⌊max/N⌋ points (a removal then also moves ~1/N of the keys among the
   * survivors). Default 65 536: 64 endpoints keep 1024 points each; a build takes a few ms.
   */
  readonly maxRingSize?: number;
}

interface Ring {
  /** Point positions, ascending. */
  readonly points: Uint32Array;
  /** Owner index (into the sorted addresses) of each point. */
  readonly owners: Uint32Array;
}

/** Owner indices are packed under the position in one double for a single typed-array sort. */
const OWNER_BITS = 2 ** 20;

export function buildRing(addresses: readonly string[], options: RingHashOptions = {}): Ring {
  const n = addresses.length;
  const maxRing = options.maxRingSize ?? 65_536;
  let per = Math.min(options.pointsPerEndpoint ?? 1024, Math.floor(maxRing / n));
  per = Math.max(per, Math.ceil((options.minRingSize ?? 1024) / n), 1);
  const total = per * n;
  const packed = new Float64Array(total);
  const positions = new Uint32Array(per);
  for (let owner = 0; owner < n; owner++) {
    indexedHashes32(addresses[owner]!, per, positions, 0);
    for (let i = 0; i < per; i++) packed[owner * per + i] = positions[i]! * OWNER_BITS + owner;
  }
  packed.sort();
  const points = new Uint32Array(total);
  const owners = new Uint32Array(total);
  for (let i = 0; i < total; i++) {
    const p = packed[i]!;
    points[i] = Math.floor(p / OWNER_BITS);
    owners[i] = p % OWNER_BITS;
  }
  return { points, owners };
}

export class RingHashBalancer implements LoadBalancer {
  readonly kind = 'ring-hash' as const;
  readonly cache: MembershipCache<Ring>;

  constructor(options: RingHashOptions = {}, private readonly random: () => number = Math.random) {
    this.cache = new MembershipCache((addresses) => buildRing(addresses, options));
  }

  pick<E extends BalancerEndpoint>(endpoints: readonly E[], context?: PickContext): E | undefined {
    if (endpoints.length === 0) return undefined;
    const { built, members } = this.cache.get(endpoints);
    const { points, owners } = built;
    const key = context?.hashKey;
    const at = key === undefined ? Math.floor(this.random() * 4294967296) : hash32(key);
    // First point at or after `at` (binary search), wrapping to 0.
    let lo = 0, hi = points.length;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (points[mid]! < at) lo = mid + 1; else hi = mid; }
    let i = lo === points.length ? 0 : lo;
    const exclude = context?.exclude;
    if (exclude !== undefined && exclude.size > 0 && exclude.has(members[owners[i]!]!.address) && members.some((m) => !exclude.has(m.address))) {
      do i = i + 1 === points.length ? 0 : i + 1; while (exclude.has(members[owners[i]!]!.address));
    }
    return members[owners[i]!];
  }

  onRequestStart(): void {}
  onRequestEnd(): void {}
}
