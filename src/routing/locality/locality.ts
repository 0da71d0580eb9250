/**
 * Where things are (SPEC §5 "Locality"; Envoy's and Istio's locality load balancing): the sidecar's
 * own `{ region, zone }` and the endpoints' `region`/`zone` labels sort an upstream's endpoints into
 * tiers, nearest first — same zone, same region, then the upstream's `failover` regions in order,
 * then everything else. Pure: labels and names in, tier indexes out, compiled once per policy.
 */

/** A place in the mesh: a region and, optionally, a zone within it (Kubernetes' topology labels). */
export interface Locality {
  readonly region: string;
  readonly zone?: string | undefined;
}

/** The labels an endpoint carries its place in (Kubernetes' `topology.kubernetes.io/region` and `/zone`, shortened). */
export const REGION_LABEL = 'region';
export const ZONE_LABEL = 'zone';

export type TierKind = 'zone' | 'region' | 'failover' | 'any';

export interface Tier {
  readonly kind: TierKind;
  /** The region a `region` or `failover` tier holds; the zone a `zone` tier holds. */
  readonly name: string;
}

export interface Tiering {
  /** Nearest first; never empty (a sidecar that does not know its place has one tier, `any`). */
  readonly tiers: readonly Tier[];
  /** The tier of an endpoint, by its labels. */
  tierOf(labels: Readonly<Record<string, string>>): number;
}

/**
 * Compiles the tiers for a sidecar at `self` (undefined: unknown, everything in one tier) and an
 * upstream's `failover` regions (duplicates and the sidecar's own region dropped).
 *
 * An endpoint is in the sidecar's zone when its `zone` label equals the sidecar's zone and its
 * `region` label, if it has one, equals the sidecar's region (zone names such as `us-east-1a` are
 * unique across regions in every cloud, so a zone label alone is enough). Endpoints without a
 * `region` label, or in a region not listed, are in the last tier, `any`.
 */
export function compileTiering(self: Locality | undefined, failover: readonly string[] = []): Tiering {
  if (self === undefined) return { tiers: [{ kind: 'any', name: '*' }], tierOf: () => 0 };
  const tiers: Tier[] = [];
  if (self.zone !== undefined) tiers.push({ kind: 'zone', name: self.zone });
  const regionTier = tiers.push({ kind: 'region', name: self.region }) - 1;
  const failoverTier = new Map<string, number>();
  for (const region of failover) {
    if (region === self.region || failoverTier.has(region)) continue;
    failoverTier.set(region, tiers.push({ kind: 'failover', name: region }) - 1);
  }
  const anyTier = tiers.push({ kind: 'any', name: '*' }) - 1;
  const zone = self.zone;
  return {
    tiers,
    tierOf(labels) {
      const region = labels[REGION_LABEL];
      if (zone !== undefined && labels[ZONE_LABEL] === zone && (region === undefined || region === self.region)) return 0;
      if (region === undefined) return anyTier;
      if (region === self.region) return regionTier;
      return failoverTier.get(region) ?? anyTier;
    },
  };
}

/** How a tier reads in explain and /clusters: `zone us-east-1a`, `region us-east-1`, `failover eu-west-1`, `any`. */
export function tierLabel(t: Tier): string {
  return t.kind === 'any' ? 'any' : `${t.kind} ${t.name}`;
}

/**
 * Parses `region/zone` or `region` (the `PILOTFISH_LOCALITY` form, Istio's `region/zone/subzone`
 * without the subzone). Empty parts count as absent, so a downward-API value of `/` (neither label
 * set on the pod) is "unknown" rather than an error. Returns an error message for anything else.
 */
export function parseLocality(text: string): { ok: true; locality: Locality | undefined } | { ok: false; error: string } {
  const parts = text.trim().split('/');
  if (parts.length > 2) return { ok: false, error: `expected region/zone, got ${JSON.stringify(text)} (subzones are not supported)` };
  const [region = '', zone = ''] = parts.map((p) => p.trim());
  if (region === '' && zone === '') return { ok: true, locality: undefined };
  if (region === '') return { ok: false, error: `expected region/zone, got ${JSON.stringify(text)}: the region is missing` };
  return { ok: true, locality: zone === '' ? { region } : { region, zone } };
}

/** `region/zone` (or `region`), the inverse of `parseLocality`. */
export function formatLocality(l: Locality): string {
  return l.zone === undefined ? l.region : `${l.region}/${l.zone}`;
}
