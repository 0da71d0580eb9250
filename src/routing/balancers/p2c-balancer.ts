/**
 * The shell both load-aware balancers share: power of two choices over a score read from the
 * upstream's shared `LoadTracker`, and the tracker fed with every request's start and end. The
 * subclasses only say which score: requests in flight (least-request) or peak-EWMA cost (ewma).
 */
import { powerOfTwo } from './candidates.js';
import type { BalancerEndpoint, LoadBalancer, LoadBalancerKind, PickContext } from './load-balancer.js';
import type { LoadTracker } from './load-tracker.js';

export abstract class P2cBalancer implements LoadBalancer {
  abstract readonly kind: LoadBalancerKind;
  private readonly score: (address: string) => number;

  protected constructor(protected readonly tracker: LoadTracker, private readonly random: () => number, score: (tracker: LoadTracker, address: string) => number) {
    this.score = (address) => score(this.tracker, address);
  }

  pick<E extends BalancerEndpoint>(endpoints: readonly E[], context?: PickContext): E | undefined {
    const i = powerOfTwo(endpoints, context?.exclude, this.random, this.score);
    return i < 0 ? undefined : endpoints[i];
  }

  onRequestStart(address: string): void {
    this.tracker.start(address);
  }

  onRequestEnd(address: string, latencyMs: number, success: boolean): void {
    this.tracker.end(address, latencyMs, success);
  }
}
