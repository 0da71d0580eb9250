/**
 * How traffic spreads over locality tiers: Envoy's priority-level load (its
 * `LoadBalancerBase::recalculatePerPriorityState`). A tier's *health* is its healthy fraction times
 * the overprovisioning factor (1.4), capped at 100 %: a tier keeps all its traffic until fewer than
 * 1/1.4 ≈ 71 % of its endpoints are healthy, and a zone at 50 % health keeps 70 %. Tiers are filled
 * nearest first, each taking as much of what is left as its health allows, so a tier gets exactly the
 * healthy share missing from the tiers above. When the tiers' health adds up to less than 100 (the
 * whole upstream is degraded), the healths are scaled up to fill 100 % — traffic still goes
 * somewhere, in proportion to where health is.
 */

/** Envoy's default overprovisioning factor (140 %). */
export const OVERPROVISIONING_FACTOR = 1.4;

/**
 * Fills `out[i]` with tier i's share of traffic in percent (they sum to 100, or are all 0 when no
 * tier has a healthy endpoint) from each tier's `healthy` and `total` endpoint counts. Allocation
 * free: called on every health change of every locality-aware upstream.
 */
export function tierShares(healthy: ArrayLike<number>, total: ArrayLike<number>, out: { [i: number]: number; length: number }, factor = OVERPROVISIONING_FACTOR): void {
  const n = out.length;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const t = total[i]!;
    const h = t > 0 ? Math.min(100, (factor * 100 * healthy[i]!) / t) : 0;
    out[i] = h;
    sum += h;
  }
  if (sum === 0) return;
  // Envoy's "normalized total availability": below 100 the healths are scaled to fill 100 %.
  const scale = 100 / Math.min(100, sum);
  let remaining = 100;
  for (let i = 0; i < n; i++) {
    const load = Math.min(remaining, out[i]! * scale);
    out[i] = load;
    remaining -= load;
  }
}
