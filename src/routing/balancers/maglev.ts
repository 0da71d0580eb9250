/**
 * Maglev (Eisenbud et al., NSDI 2016; Envoy's `MAGLEV`): a lookup table of a prime size M filled by
 * letting endpoints take turns claiming slots along their own permutation of 0…M-1 (offset and skip
 * from two hashes of the address). A key goes to table[hash(key) mod M]: one array read per pick,
 * near-perfect balance (shares differ by at most ~N/M), and when an endpoint leaves, little more than
 * its own slots change hands. A retry probes the following slots for an endpoint not yet tried —
 * adjacent slots belong to effectively random endpoints.
 */
import { hash53, hash53Pair } from '../hash.js';
import { MembershipCache } from './membership-cache.js';
import type { BalancerEndpoint, LoadBalancer, PickContext } from './load-balancer.js';

export interface MaglevOptions {
  /** Lookup table size; must be prime and much larger than the endpoint count. Default 65 537 (Envoy's). */
  readonly tableSize?: number;
}

export function buildMaglevTable(addresses: readonly string[], tableSize = 65_537): Int32Array {
  const m = tableSize;
  const n = addresses.length;
  const position = new Float64Array(n);
  const skip = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    position[i] = hash53Pair('maglev/offset', addresses[i]!) % m;
    skip[i] = (hash53Pair('maglev/skip', addresses[i]!) % (m - 1)) + 1;
  }
  const table = new Int32Array(m).fill(-1);
  let filled = 0;
  // Each turn an endpoint claims the next free slot of its permutation; with M prime and skip in
  // [1, M-1] every permutation visits every slot, so the loop ends once all M slots are taken.
  while (filled < m) {
    for (let i = 0; i < n && filled < m; i++) {
      let c = position[i]!;
      while (table[c]! >= 0) c = c + skip[i]! >= m ? c + skip[i]! - m : c + skip[i]!;
      table[c] = i;
      filled++;
      position[i] = c + skip[i]! >= m ? c + skip[i]! - m : c + skip[i]!;
    }
  }
  return table;
}

export class MaglevBalancer implements LoadBalancer {
  readonly kind = 'maglev' as const;
  readonly cache: MembershipCache<Int32Array>;
  private readonly size: number;

  constructor(options: MaglevOptions = {}, private readonly random: () => number = Math.random) {
    this.size = options.tableSize ?? 65_537;
    this.cache = new MembershipCache((addresses) => buildMaglevTable(addresses, this.size));
  }

  pick<E extends BalancerEndpoint>(endpoints: readonly E[], context?: PickContext): E | undefined {
    if (endpoints.length === 0) return undefined;
    const { built: table, members } = this.cache.get(endpoints);
    const m = this.size;
    const key = context?.hashKey;
    let slot = key === undefined ? Math.floor(this.random() * m) : hash53(key) % m;
    const exclude = context?.exclude;
    if (exclude !== undefined && exclude.size > 0 && exclude.has(members[table[slot]!]!.address) && members.some((e) => !exclude.has(e.address))) {
      do slot = slot + 1 === m ? 0 : slot + 1; while (exclude.has(members[table[slot]!]!.address));
    }
    return members[table[slot]!];
  }

  onRequestStart(): void {}
  onRequestEnd(): void {}
}
