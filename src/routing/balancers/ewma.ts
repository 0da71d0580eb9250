/**
 * Latency-aware power of two choices (Linkerd's default balancer, Finagle's peak EWMA): sample two
 * endpoints, take the lower cost = decayed peak-EWMA latency × (requests in flight + 1). A slow
 * endpoint is avoided as soon as one slow response is seen, and recovers as its estimate decays.
 */
import type { LoadTracker } from './load-tracker.js';
import { P2cBalancer } from './p2c-balancer.js';

export class EwmaBalancer extends P2cBalancer {
  readonly kind = 'ewma' as const;

  constructor(tracker: LoadTracker, random: () => number = Math.random) {
    super(tracker, random, (t, address) => t.cost(address));
  }
}
