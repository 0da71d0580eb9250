/**
 * One upstream (or subset) seen through the sidecar's locality: its members sorted into tiers once
 * per membership, and — on each health change — the eligible endpoints of every tier and each tier's
 * share of traffic (tier-shares.ts). Between changes a pick is a scan of a handful of numbers: the
 * tier whose cumulative-share interval holds the request's bucket, then the upstream's own balancer
 * over that tier's eligible endpoints (the arrays are built on change, never per request).
 *
 * The bucket is a number in [0, 100): random for a plain request; for a sticky key a hash of the key
 * (`localityBucket`), so a key keeps its tier — and, through the tier's consistent-hash balancer, its
 * endpoint — while health is stable. When a tier's share shrinks from s to s′, exactly the keys with
 * buckets in [s′, s) move to the tiers below, and they move back when it recovers: the same monotone
 * rule as weighted splits (and Envoy's `choosePriority(hash)`).
 */
import { hash53Pair } from '../hash.js';
import { compileTiering, tierLabel, type Locality, type Tier, type Tiering } from './locality.js';
import { tierShares } from './tier-shares.js';

export interface LocalityEndpoint {
  readonly address: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** What /clusters and explain show of one tier. */
export interface TierView {
  readonly tier: string;
  readonly endpoints: string[];
  readonly eligible: string[];
  /** Percent of this destination's traffic the tier gets now. */
  readonly share: number;
}

const EMPTY: readonly never[] = Object.freeze([]);

/** A sticky key's locality bucket in [0, 100), independent of its split bucket and endpoint hash. */
export function localityBucket(key: string): number {
  return (hash53Pair('pilotfish/locality', key) % 10_000) / 100;
}

export class LocalityView<E extends LocalityEndpoint> {
  readonly tiers: readonly Tier[];
  private readonly members: (readonly E[])[];
  private eligibleByTier: (readonly E[])[];
  private readonly tierByAddress = new Map<string, number>();
  private readonly totals: Uint32Array;
  private readonly healthy: Uint32Array;
  /** Percent per tier. */
  private readonly shares: Float64Array;
  /** Cumulative share up to and including each tier. */
  private readonly upper: Float64Array;

  constructor(tiering: Tiering, members: readonly E[]) {
    this.tiers = tiering.tiers;
    const n = this.tiers.length;
    const byTier: E[][] = this.tiers.map(() => []);
    for (const e of members) {
      const t = tiering.tierOf(e.labels);
      if (!this.tierByAddress.has(e.address)) this.tierByAddress.set(e.address, t);
      byTier[t]!.push(e);
    }
    this.members = byTier;
    this.totals = Uint32Array.from(byTier, (l) => l.length);
    this.healthy = new Uint32Array(n);
    this.shares = new Float64Array(n);
    this.upper = new Float64Array(n);
    this.eligibleByTier = byTier;
    this.update(members);
  }

  /** A view for a sidecar at `self` with the upstream's `failover` order. */
  static of<E extends LocalityEndpoint>(self: Locality | undefined, failover: readonly string[], members: readonly E[]): LocalityView<E> {
    return new LocalityView(compileTiering(self, failover), members);
  }

  /** New eligibility (a health check, an ejection, a re-admission): re-sorts and re-weighs the tiers. */
  update(eligible: readonly E[]): void {
    const lists: E[][] = this.tiers.map(() => []);
    for (const e of eligible) {
      const t = this.tierByAddress.get(e.address);
      if (t !== undefined) lists[t]!.push(e);
    }
    for (let i = 0; i < lists.length; i++) this.healthy[i] = lists[i]!.length;
    this.eligibleByTier = lists;
    tierShares(this.healthy, this.totals, this.shares);
    let acc = 0;
    for (let i = 0; i < this.shares.length; i++) this.upper[i] = (acc += this.shares[i]!);
  }

  /**
   * The tier for a request whose bucket is `bucket` (in [0, 100)); -1 when no tier has an eligible
   * endpoint. With `exclude` (a retry) a tier whose eligible endpoints were all tried already is
   * passed over for the nearest one below (then above) that still has an untried one.
   */
  tierFor(bucket: number, exclude?: ReadonlySet<string>): number {
    const shares = this.shares;
    let t = -1;
    for (let i = 0; i < shares.length; i++) {
      if (shares[i]! <= 0) continue;
      t = i;
      if (bucket < this.upper[i]!) break;
    }
    if (t < 0 || exclude === undefined || exclude.size === 0 || hasUntried(this.eligibleByTier[t]!, exclude)) return t;
    const n = shares.length;
    for (let k = 1; k < n; k++) {
      const j = (t + k) % n;
      if (hasUntried(this.eligibleByTier[j]!, exclude)) return j;
    }
    return t;
  }

  /** The eligible endpoints of a tier (empty for -1). The same array until the next `update`. */
  eligible(tier: number): readonly E[] {
    return tier < 0 ? EMPTY : this.eligibleByTier[tier]!;
  }

  /** Percent of traffic tier `tier` gets now. */
  share(tier: number): number {
    return this.shares[tier] ?? 0;
  }

  describe(): TierView[] {
    return this.tiers.map((t, i) => ({
      tier: tierLabel(t),
      endpoints: this.members[i]!.map((e) => e.address),
      eligible: this.eligibleByTier[i]!.map((e) => e.address),
      share: Math.round(this.shares[i]! * 100) / 100,
    }));
  }
}

function hasUntried(list: readonly LocalityEndpoint[], exclude: ReadonlySet<string>): boolean {
  for (let i = 0; i < list.length; i++) if (!exclude.has(list[i]!.address)) return true;
  return false;
}
