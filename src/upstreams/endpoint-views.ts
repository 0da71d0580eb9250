/**
 * What a pick may choose from, per subset: the eligible endpoints (healthy, not ejected) and, for a
 * locality-aware upstream, the locality view (tiers, their eligible endpoints and shares). Both are
 * rebuilt only when something changed — a health verdict, an ejection or re-admission, new
 * membership — so a request reads cached arrays and allocates nothing for them.
 *
 * Changes arrive as events (health `change`, outlier `eject`/`uneject`), each bumping a version. An
 * ejection also ends by time, which the detector notices lazily (on read), so a cache built while an
 * endpoint is ejected is valid only until its re-admission time: one clock read per pick then, none
 * while nothing is ejected.
 */
import type { HealthChecker, OutlierDetector } from '../resilience/index.js';
import { LocalityView, type LoadBalancer, type Locality, type TierView } from '../routing/index.js';
import type { Endpoint } from './endpoint.js';

export interface LocalitySettings {
  /** The sidecar's own place; undefined: unknown (one tier). */
  readonly self: Locality | undefined;
  readonly failover: readonly string[];
}

interface Entry {
  members: readonly Endpoint[];
  version: number;
  /** Monotonic ms after which `eligible` may be stale (an ejection ends); Infinity: not by time. */
  validUntil: number;
  eligible: readonly Endpoint[];
  view: LocalityView<Endpoint> | undefined;
  /** Balancers per tier (plain and sticky), kept across membership changes: the tier count is fixed. */
  readonly balancers: Array<LoadBalancer | undefined>;
  readonly sticky: Array<LoadBalancer | undefined>;
}

export class EndpointViews {
  private version = 0;
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(
    private readonly health: HealthChecker | undefined,
    private readonly outlier: OutlierDetector | undefined,
    readonly locality: LocalitySettings | undefined,
    now: () => number = () => globalThis.performance.now(),
  ) {
    this.now = now;
    const bump = (): void => { this.version++; };
    health?.on('change', bump);
    outlier?.on('eject', bump);
    outlier?.on('uneject', bump);
  }

  /** The eligible members (of a subset, keyed `key`): healthy and not ejected. */
  eligible(key: string, members: readonly Endpoint[]): readonly Endpoint[] {
    return this.entry(key, members).eligible;
  }

  /** The locality view of a subset; undefined when the upstream is not locality-aware. */
  view(key: string, members: readonly Endpoint[]): LocalityView<Endpoint> | undefined {
    return this.locality === undefined ? undefined : this.entry(key, members).view;
  }

  /** The balancer of one tier of a subset, made by `make` on first use. */
  tierBalancer(key: string, members: readonly Endpoint[], tier: number, sticky: boolean, make: () => LoadBalancer): LoadBalancer {
    const e = this.entry(key, members);
    const list = sticky ? e.sticky : e.balancers;
    const i = tier < 0 ? 0 : tier;
    return list[i] ?? (list[i] = make());
  }

  /** /clusters and explain: the tiers of a subset now. */
  describe(key: string, members: readonly Endpoint[]): TierView[] | undefined {
    return this.view(key, members)?.describe();
  }

  private entry(key: string, members: readonly Endpoint[]): Entry {
    let e = this.entries.get(key);
    if (e !== undefined && e.members === members && e.version === this.version && (e.validUntil === Infinity || this.now() < e.validUntil)) return e;
    if (e === undefined) {
      e = { members, version: -1, validUntil: 0, eligible: members, view: undefined, balancers: [], sticky: [] };
      this.entries.set(key, e);
    }
    this.rebuild(e, members);
    return e;
  }

  private rebuild(e: Entry, members: readonly Endpoint[]): void {
    const { health, outlier } = this;
    let validUntil = Infinity;
    let eligible: readonly Endpoint[] = members;
    if (health !== undefined || outlier !== undefined) {
      const list: Endpoint[] = [];
      for (const m of members) {
        if (health !== undefined && !health.isHealthy(m.address)) continue;
        const readmitted = outlier?.readmissionAt(m.address) ?? 0;
        if (readmitted > 0) { if (readmitted < validUntil) validUntil = readmitted; continue; }
        list.push(m);
      }
      eligible = list;
    }
    if (this.locality !== undefined) {
      if (e.view === undefined || e.members !== members) e.view = LocalityView.of(this.locality.self, this.locality.failover, members);
      e.view.update(eligible);
    }
    // Read after the scan: a re-admission noticed during it (an `uneject` event) is already in `eligible`.
    e.version = this.version;
    e.members = members;
    e.validUntil = validUntil;
    e.eligible = eligible;
  }
}
