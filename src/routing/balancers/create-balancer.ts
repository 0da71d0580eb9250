/**
 * The registry of balancer kinds: the policy's `loadBalancer` name → an instance. Adding a kind is
 * one entry here and one class beside it, and the shared conformance suite picks it up.
 */
import { EwmaBalancer } from './ewma.js';
import { LeastRequestBalancer } from './least-request.js';
import type { LoadBalancer, LoadBalancerKind } from './load-balancer.js';
import { LoadTracker, type LoadTrackerOptions } from './load-tracker.js';
import { MaglevBalancer, type MaglevOptions } from './maglev.js';
import { RandomBalancer } from './random.js';
import { RingHashBalancer, type RingHashOptions } from './ring-hash.js';
import { RoundRobinBalancer } from './round-robin.js';

export interface LoadBalancerOptions {
  /** Uniform numbers in [0, 1). Default `Math.random`; tests inject a seeded generator. */
  readonly random?: () => number;
  /**
   * In-flight counts and latency estimates for `least-request` and `ewma`. Share one tracker among
   * the balancers of one upstream (one per subset). Default: a new tracker with `tracking` options.
   */
  readonly tracker?: LoadTracker;
  /** Options of the default tracker (EWMA decay, default RTT, clock); ignored with `tracker`. */
  readonly tracking?: LoadTrackerOptions;
  readonly ringHash?: RingHashOptions;
  readonly maglev?: MaglevOptions;
}

export const LOAD_BALANCER_KINDS: readonly LoadBalancerKind[] = ['round-robin', 'random', 'least-request', 'ewma', 'ring-hash', 'maglev'];

export function createLoadBalancer(kind: LoadBalancerKind, options: LoadBalancerOptions = {}): LoadBalancer {
  const random = options.random ?? Math.random;
  const tracker = (): LoadTracker => options.tracker ?? new LoadTracker(options.tracking);
  switch (kind) {
    case 'round-robin': return new RoundRobinBalancer(random);
    case 'random': return new RandomBalancer(random);
    case 'least-request': return new LeastRequestBalancer(tracker(), random);
    case 'ewma': return new EwmaBalancer(tracker(), random);
    case 'ring-hash': return new RingHashBalancer(options.ringHash, random);
    case 'maglev': return new MaglevBalancer(options.maglev, random);
  }
}
