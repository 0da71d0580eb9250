/** Uniform random choice: no state, no coordination, good enough when requests are alike. */
import { countAllowed, nthAllowed } from './candidates.js';
import type { BalancerEndpoint, LoadBalancer, PickContext } from './load-balancer.js';

export class RandomBalancer implements LoadBalancer {
  readonly kind = 'random' as const;

  constructor(private readonly random: () => number = Math.random) {}

  pick<E extends BalancerEndpoint>(endpoints: readonly E[], context?: PickContext): E | undefined {
    const n = endpoints.length;
    if (n === 0) return undefined;
    let allowed = countAllowed(endpoints, context?.exclude);
    if (allowed === 0) allowed = n;
    return endpoints[nthAllowed(endpoints, context?.exclude, allowed, Math.floor(this.random() * allowed))];
  }

  onRequestStart(): void {}
  onRequestEnd(): void {}
}
