/**
 * Least-request by the power of two choices (Envoy's default for equal weights): sample two distinct
 * endpoints at random and take the one with fewer requests in flight. Nearly as good as scanning for
 * the global minimum, without its herd behaviour — every sidecar piling onto the same idle endpoint.
 */
import type { LoadTracker } from './load-tracker.js';
import { P2cBalancer } from './p2c-balancer.js';

export class LeastRequestBalancer extends P2cBalancer {
  readonly kind = 'least-request' as const;

  constructor(tracker: LoadTracker, random: () => number = Math.random) {
    super(tracker, random, (t, address) => t.pending(address));
  }
}
