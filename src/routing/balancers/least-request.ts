/**
 * Least-request by the power of two choices (Envoy's default for equal weights): sample two distinct
 * endpoints at random and take the one with fewer requests in flight. Nearly as good as scanning for
 * the global minimum, without its herd behaviour — every sidecar piling onto the same idle endpoint.
 */
import { powerOfTwo } from './candidates.js';
import type { BalancerEndpoint, LoadBalancer, PickContext } from './load-balancer.js';
import type { LoadTracker } from './load-tracker.js';

export class LeastRequestBalancer implements LoadBalancer {
  readonly kind = 'least-request' as const;
  private readonly pending: (address: string) => number;

  constructor(private readonly tracker: LoadTracker, private readonly random: () => number = Math.random) {
    this.pending = (address) => this.tracker.pending(address);
  }

  pick<E extends BalancerEndpoint>(endpoints: readonly E[], context?: PickContext): E | undefined {
    const i = powerOfTwo(endpoints, context?.exclude, this.random, this.pending);
    return i < 0 ? undefined : endpoints[i];
  }

  onRequestStart(address: string): void {
    this.tracker.start(address);
  }

  onRequestEnd(address: string, latencyMs: number, success: boolean): void {
    this.tracker.end(address, latencyMs, success);
  }
}
