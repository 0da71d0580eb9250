/**
 * Built lookup structures (a hash ring, a Maglev table) cached per membership, so they are rebuilt
 * only when the set of eligible endpoints changes — not when the caller passes a fresh array with
 * the same members, nor when it lists them in another order.
 *
 * Lookup, cheapest first: the same array as last time (O(1)); else an order-independent fingerprint
 * of the addresses (count, two sums and a xor of their hashes) against the few memberships seen
 * recently — an endpoint flapping in and out toggles between two of them — confirmed member by
 * member, so a fingerprint collision can never serve the wrong table. A build sees the distinct
 * addresses sorted, which makes the structure a function of the set alone: every sidecar replica
 * builds the same ring and sends a key to the same endpoint.
 */
import { hash53 } from '../hash.js';
import type { BalancerEndpoint } from './load-balancer.js';

export interface Membership<B, E extends BalancerEndpoint = BalancerEndpoint> {
  readonly built: B;
  /** Endpoint objects of the latest list, indexed like the build's sorted addresses (owner index). */
  readonly members: readonly E[];
}

interface Entry<B> {
  readonly length: number;
  readonly sum1: number;
  readonly sum2: number;
  readonly xor: number;
  /** address → owner index. */
  readonly position: ReadonlyMap<string, number>;
  readonly built: B;
  readonly members: BalancerEndpoint[];
  /** Scratch for `sameMembers`: the stamp of the last check that saw each member. */
  readonly marks: Uint32Array;
}

const TWO_32 = 4294967296;
/** Address hashes remembered for fingerprints; addresses come from the policy and DNS, not clients. */
const MAX_HASHES = 65_536;

export class MembershipCache<B> {
  private entries: Entry<B>[] = [];
  private lastList: readonly BalancerEndpoint[] | undefined;
  private lastEntry: Entry<B> | undefined;
  private readonly hashes = new Map<string, number>();
  private stamp = 0;
  /** Number of builds so far (tests assert rebuilds happen only on membership changes). */
  builds = 0;

  /**
   * @param build makes the structure from distinct, sorted addresses (owner index = position).
   * @param capacity memberships kept (least recently used dropped). Default 4.
   */
  constructor(private readonly build: (addresses: readonly string[]) => B, private readonly capacity = 4) {}

  /** The structure for the members of `endpoints` (non-empty). */
  get<E extends BalancerEndpoint>(endpoints: readonly E[]): Membership<B, E> {
    if (endpoints === this.lastList && this.lastEntry !== undefined) return this.lastEntry as unknown as Membership<B, E>;
    let sum1 = 0, sum2 = 0, xor = 0;
    for (let i = 0; i < endpoints.length; i++) {
      const h = this.hashOf(endpoints[i]!.address);
      const low = h >>> 0;
      sum1 = (sum1 + low) >>> 0;
      sum2 = (sum2 + Math.floor(h / TWO_32)) >>> 0;
      xor = (xor ^ low) >>> 0;
    }
    let entry: Entry<B> | undefined;
    for (const e of this.entries) {
      if (e.length !== endpoints.length || e.sum1 !== sum1 || e.sum2 !== sum2 || e.xor !== xor) continue;
      if (this.stamp === 0xffffffff) { this.stamp = 0; for (const x of this.entries) x.marks.fill(0); }
      this.stamp++;
      if (sameMembers(e, endpoints, this.stamp)) { entry = e; break; }
    }
    if (entry === undefined) {
      entry = this.create(endpoints, sum1, sum2, xor);
    } else {
      for (let i = 0; i < endpoints.length; i++) entry.members[entry.position.get(endpoints[i]!.address)!] = endpoints[i]!;
      this.entries.splice(this.entries.indexOf(entry), 1);
    }
    this.entries.unshift(entry);
    this.lastList = endpoints;
    this.lastEntry = entry;
    return entry as unknown as Membership<B, E>;
  }

  private create(endpoints: readonly BalancerEndpoint[], sum1: number, sum2: number, xor: number): Entry<B> {
    const byAddress = new Map<string, BalancerEndpoint>();
    for (const e of endpoints) if (!byAddress.has(e.address)) byAddress.set(e.address, e);
    const addresses = [...byAddress.keys()].sort();
    const position = new Map(addresses.map((a, i) => [a, i]));
    const members = addresses.map((a) => byAddress.get(a)!);
    this.builds++;
    const entry = { length: endpoints.length, sum1, sum2, xor, position, built: this.build(addresses), members, marks: new Uint32Array(addresses.length) };
    if (this.entries.length >= this.capacity) this.entries.pop();
    return entry;
  }

  private hashOf(address: string): number {
    let h = this.hashes.get(address);
    if (h === undefined) {
      if (this.hashes.size >= MAX_HASHES) this.hashes.clear();
      h = hash53(address);
      this.hashes.set(address, h);
    }
    return h;
  }
}

/** Whether the distinct addresses of `endpoints` are exactly the entry's members (no allocation). */
function sameMembers<B>(e: Entry<B>, endpoints: readonly BalancerEndpoint[], stamp: number): boolean {
  let distinct = 0;
  for (let i = 0; i < endpoints.length; i++) {
    const at = e.position.get(endpoints[i]!.address);
    if (at === undefined) return false;
    if (e.marks[at] !== stamp) { e.marks[at] = stamp; distinct++; }
  }
  return distinct === e.position.size;
}
