/**
 * The routes of one host bucket, indexed by path so a decision touches only routes whose path can
 * match: exact paths in a hash map, prefixes in a radix trie, regexes in the same trie under the
 * literal heads every match of theirs starts with (`/api/v[0-9]+/.*` under "/api/v",
 * `/(users|orders)/.*` under "/users/" and "/orders/"; no literal head: under "").
 *
 * Precedence is not simply "longest prefix": a shorter prefix with a higher priority wins. So the
 * trie walk collects every matching node's list — each pre-sorted by the full precedence order — and
 * a k-way merge visits the candidates in exactly `compareEntries` order, stopping at the first whose
 * conditions hold. Usually one list is collected and the merge is a plain scan. Scratch arrays live
 * on the index and are reused: a decision allocates nothing here.
 */
import type { MatchInput, QueryScratch } from './conditions.js';
import { PrefixTrie } from './prefix-trie.js';
import { compareEntries, conditionsHold, type RouteEntry } from './route-entry.js';

interface TrieSlot<T> {
  readonly prefix: RouteEntry<T>[];
  readonly regex: RouteEntry<T>[];
}

function newSlot<T>(): TrieSlot<T> {
  return { prefix: [], regex: [] };
}

export class PathIndex<T> {
  /** Every entry of the bucket in precedence order (explain, validate). */
  readonly all: readonly RouteEntry<T>[];
  /** Whether any entry has jsonBody conditions. */
  readonly hasJson: boolean;
  private readonly exact = new Map<string, RouteEntry<T>[]>();
  private readonly trie = new PrefixTrie<TrieSlot<T>>();
  /**
   * Scratch, made as a decision leaves it (one element of its final kind): the request path is
   * optimized on the first snapshot's arrays after they held objects, and a new snapshot's arrays
   * still empty (another elements kind, another map) threw that code away ("wrong map") on the first
   * requests after a flip.
   */
  private readonly slots: TrieSlot<T>[] = [newSlot()];
  private readonly lists: RouteEntry<T>[][] = [[]];
  private readonly cursors: number[] = [0];

  constructor(entries: readonly RouteEntry<T>[]) {
    const all = [...entries].sort(compareEntries);
    this.all = all;
    this.hasJson = all.some((e) => e.hasJson);
    // `all` is sorted, so every list below is built already in precedence order.
    for (const e of all) {
      if (e.matchType === 'exact') {
        const list = this.exact.get(e.pathValue);
        if (list) list.push(e); else this.exact.set(e.pathValue, [e]);
      } else {
        // A regex with several heads sits in several slots; the heads are minimal (none is a prefix
        // of another), so one path reaches at most one of them and no entry is visited twice.
        for (const key of e.trieKeys) {
          const slot = this.trie.getOrCreate(key, newSlot<T>);
          (e.matchType === 'prefix' ? slot.prefix : slot.regex).push(e);
        }
      }
    }
  }

  /** The winning entry for `input` in this bucket, or undefined. */
  match(input: MatchInput, query: QueryScratch, assumeJson: boolean): RouteEntry<T> | undefined {
    const path = input.path;
    const exact = this.exact.get(path);
    if (exact !== undefined) {
      for (let i = 0; i < exact.length; i++) {
        if (conditionsHold(exact[i]!, input, query, assumeJson)) return exact[i];
      }
    }
    const n = this.trie.walk(path, this.slots);
    if (n === 0) return undefined;
    return this.merge(n, 'prefix', input, query, assumeJson) ?? this.merge(n, 'regex', input, query, assumeJson);
  }

  private merge(n: number, kind: 'prefix' | 'regex', input: MatchInput, query: QueryScratch, assumeJson: boolean): RouteEntry<T> | undefined {
    const lists = this.lists;
    const cursors = this.cursors;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const list = this.slots[i]![kind];
      if (list.length > 0) { lists[k] = list; cursors[k] = 0; k++; }
    }
    const regex = kind === 'regex';
    if (k === 1) {
      const list = lists[0]!;
      for (let i = 0; i < list.length; i++) {
        const e = list[i]!;
        if ((!regex || e.regex!.test(input.path)) && conditionsHold(e, input, query, assumeJson)) return e;
      }
      return undefined;
    }
    for (;;) {
      let best = -1;
      let bestEntry: RouteEntry<T> | undefined;
      for (let j = 0; j < k; j++) {
        const list = lists[j]!;
        const c = cursors[j]!;
        if (c >= list.length) continue;
        const e = list[c]!;
        if (bestEntry === undefined || compareEntries(e, bestEntry) < 0) { best = j; bestEntry = e; }
      }
      if (bestEntry === undefined) return undefined;
      if ((!regex || bestEntry.regex!.test(input.path)) && conditionsHold(bestEntry, input, query, assumeJson)) return bestEntry;
      cursors[best]!++;
    }
  }
}
