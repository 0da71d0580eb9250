/** Locality-aware load balancing (SPEC §5): tiers by place, shares by health. Pure. */
export {
  compileTiering, parseLocality, formatLocality, tierLabel, REGION_LABEL, ZONE_LABEL,
  type Locality, type Tier, type TierKind, type Tiering,
} from './locality.js';
export { tierShares, OVERPROVISIONING_FACTOR } from './tier-shares.js';
export { LocalityView, localityBucket, type LocalityEndpoint, type TierView } from './locality-view.js';
