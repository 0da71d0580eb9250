/**
 * Latency-aware power of two choices (Linkerd's default balancer, Finagle's peak EWMA): sample two
 * endpoints, take the lower cost = decayed peak-EWMA latency × (requests in flight + 1). A slow
 * endpoint is avoided as soon as one slow response is seen, and recovers as its estimate decays.
 */
import { powerOfTwo } from './candidates.js';
import type { BalancerEndpoint, LoadBalancer, PickContext } from './load-balancer.js';
import type { LoadTracker } from './load-tracker.js';

export class EwmaBalancer implements LoadBalancer {
  readonly kind = 'ewma' as const;
  private readonly cost: (address: string) => number;

  constructor(private readonly tracker: LoadTracker, private readonly random: () => number = Math.random) {
    this.cost = (address) => this.tracker.cost(address);
  }

  pick<E extends BalancerEndpoint>(endpoints: readonly E[], context?: PickContext): E | undefined {
    const i = powerOfTwo(endpoints, context?.exclude, this.random, this.cost);
    return i < 0 ? undefined : endpoints[i];
  }

  onRequestStart(address: string): void {
    this.tracker.start(address);
  }

  onRequestEnd(address: string, latencyMs: number, success: boolean): void {
    this.tracker.end(address, latencyMs, success);
  }
}
