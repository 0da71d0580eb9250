/**
 * The sticky bucket of SPEC §5: `hash(route, key) % 100`, fed to `Split.pick`. The route name is
 * part of the hash so one user is not in the low buckets of every route at once (their canary
 * exposure would otherwise be correlated across all services). The hash (`hash53Pair`) is FNV-1a 64
 * with a finaliser, defined on UTF-8 bytes: every sidecar replica computes the same bucket.
 */
import { hash53Pair } from './hash.js';

/** An integer in [0, 100), a pure function of (`routeName`, `key`). */
export function stickyBucket(routeName: string, key: string): number {
  return hash53Pair(routeName, key) % 100;
}
