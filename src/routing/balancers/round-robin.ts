/**
 * Round-robin: each pick takes the next endpoint of the list. The cursor starts at a random place so
 * that many sidecars started together do not all hit the first endpoint first (Envoy does the same).
 * The cursor is the index after the last choice, taken modulo the current list length, so a
 * membership change just continues the rotation over the new list.
 */
import { countAllowed } from './candidates.js';
import type { BalancerEndpoint, LoadBalancer, PickContext } from './load-balancer.js';

export class RoundRobinBalancer implements LoadBalancer {
  readonly kind = 'round-robin' as const;
  private cursor: number;

  constructor(random: () => number = Math.random) {
    this.cursor = Math.floor(random() * 0x10000);
  }

  pick<E extends BalancerEndpoint>(endpoints: readonly E[], context?: PickContext): E | undefined {
    const n = endpoints.length;
    if (n === 0) return undefined;
    const exclude = context?.exclude;
    let chosen = this.cursor % n;
    if (exclude !== undefined && exclude.size > 0 && countAllowed(endpoints, exclude) > 0) {
      while (exclude.has(endpoints[chosen]!.address)) chosen = (chosen + 1) % n;
    }
    this.cursor = chosen + 1;
    return endpoints[chosen];
  }

  onRequestStart(): void {}
  onRequestEnd(): void {}
}
