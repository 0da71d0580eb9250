/**
 * Per-key buckets (one `tat` each, gcra.ts) in a table with a hard cap on the number of keys, least
 * recently used evicted first. Keys come from clients (a header, an address), so everything here is
 * bounded: the number of keys (`maxKeys`, however fast an attacker cycles them), the length of a key
 * (longer ones are stored as a hash), and the work per take (a map lookup and a few array writes: an
 * intrusive doubly-linked LRU list over typed arrays, no object per key).
 *
 * Evicting the least recently used key forgets its bucket — which loses nothing when that bucket has
 * refilled (it has been idle `burst × T`), the usual case. Only a flood of more than `maxKeys`
 * distinct keys within one refill time evicts live buckets; those keys then start full again, as a
 * new key would (a client that can mint keys gets a fresh burst per key either way).
 */
import { hash53 } from '../routing/hash.js';
import { gcraRemaining, gcraTake, type Gcra } from './gcra.js';

/** Keys longer than this (UTF-16 units) are stored as a 53-bit hash. */
export const MAX_KEY_LENGTH = 256;
const NONE = -1;

export class KeyedBuckets {
  private readonly index = new Map<string, number>();
  private keys: string[] = [];
  private tats: Float64Array;
  private prev: Int32Array;
  private next: Int32Array;
  /** Most recently used slot, and least. */
  private head = NONE;
  private tail = NONE;
  private used = 0;
  /** Live buckets (not yet refilled) dropped to make room: a sign `maxKeys` is too small, or a flood. */
  evictedLive = 0;

  constructor(private readonly gcra: Gcra, readonly maxKeys: number) {
    const initial = Math.min(maxKeys, 64);
    this.tats = new Float64Array(initial);
    this.prev = new Int32Array(initial);
    this.next = new Int32Array(initial);
  }

  /** Takes a request for `key` at `now`: 0 when it passes, else ms until it would. */
  take(key: string, now: number): number {
    const slot = this.slotFor(key, now);
    const r = gcraTake(this.gcra, this.tats[slot]!, now);
    if (r < 0) return -r;
    this.tats[slot] = r;
    return 0;
  }

  /** Requests `key` could make at once now (explain). Does not create or touch the key. */
  remaining(key: string, now: number): number {
    const slot = this.index.get(stored(key));
    return gcraRemaining(this.gcra, slot === undefined ? 0 : this.tats[slot]!, now);
  }

  get size(): number {
    return this.used;
  }

  private slotFor(raw: string, now: number): number {
    const key = stored(raw);
    let slot = this.index.get(key);
    if (slot !== undefined) {
      if (slot !== this.head) { this.unlink(slot); this.pushFront(slot); }
      return slot;
    }
    if (this.used < this.maxKeys) {
      if (this.used === this.tats.length) this.grow();
      slot = this.used++;
    } else {
      slot = this.tail; // the least recently used key gives up its slot
      if (this.tats[slot]! > now) this.evictedLive++;
      this.index.delete(this.keys[slot]!);
      this.unlink(slot);
    }
    this.keys[slot] = key;
    this.tats[slot] = 0; // full
    this.index.set(key, slot);
    this.pushFront(slot);
    return slot;
  }

  private unlink(slot: number): void {
    const p = this.prev[slot]!, n = this.next[slot]!;
    if (p === NONE) this.head = n; else this.next[p] = n;
    if (n === NONE) this.tail = p; else this.prev[n] = p;
  }

  private pushFront(slot: number): void {
    this.prev[slot] = NONE;
    this.next[slot] = this.head;
    if (this.head !== NONE) this.prev[this.head] = slot;
    this.head = slot;
    if (this.tail === NONE) this.tail = slot;
  }

  /** Doubles the slot arrays, up to `maxKeys`: a route with few clients stays small. */
  private grow(): void {
    const size = Math.min(this.maxKeys, this.tats.length * 2);
    const copy = <A extends Float64Array | Int32Array>(a: A, make: (n: number) => A): A => { const b = make(size); b.set(a); return b; };
    this.tats = copy(this.tats, (n) => new Float64Array(n));
    this.prev = copy(this.prev, (n) => new Int32Array(n));
    this.next = copy(this.next, (n) => new Int32Array(n));
  }
}

/** How a key is kept: as given, or a long one as a hash (NUL-prefixed: no header value or address contains NUL). */
export function stored(key: string): string {
  return key.length <= MAX_KEY_LENGTH ? key : `\u0000${hash53(key).toString(36)}`;
}
