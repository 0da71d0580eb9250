/**
 * A radix tree (compressed trie) of string prefixes. `walk(path)` yields, shortest first, the values of
 * every stored key that is a prefix of `path`, in O(length of path) character comparisons and without
 * allocating: edges hold whole label strings, compared in place with `startsWith(label, position)`,
 * and children are keyed by the first character code of their label.
 */

interface TrieNode<V> {
  /** The edge label from the parent to this node. */
  label: string;
  children: Map<number, TrieNode<V>> | undefined;
  value: V | undefined;
}

function node<V>(label: string): TrieNode<V> {
  return { label, children: undefined, value: undefined };
}

export class PrefixTrie<V> {
  private readonly root: TrieNode<V> = node('');
  private size = 0;

  /** Number of keys stored. */
  get count(): number {
    return this.size;
  }

  /** The value stored under exactly `key`, created with `make` when absent. */
  getOrCreate(key: string, make: () => V): V {
    let n = this.root;
    let i = 0;
    while (i < key.length) {
      const c = key.charCodeAt(i);
      const child = n.children?.get(c);
      if (!child) {
        const leaf = node<V>(key.slice(i));
        (n.children ??= new Map()).set(c, leaf);
        n = leaf;
        break;
      }
      const label = child.label;
      let j = 1; // the first character matched through the map key
      while (j < label.length && i + j < key.length && label.charCodeAt(j) === key.charCodeAt(i + j)) j++;
      if (j < label.length) {
        // `key` leaves (or ends inside) this edge: split it so a node sits where they diverge.
        const mid = node<V>(label.slice(0, j));
        child.label = label.slice(j);
        mid.children = new Map([[child.label.charCodeAt(0), child]]);
        n.children!.set(c, mid);
        n = mid;
      } else {
        n = child;
      }
      i += j;
    }
    if (n.value === undefined) { n.value = make(); this.size++; }
    return n.value;
  }

  /**
   * Writes the values of all stored prefixes of `path` into `out` from index 0, shortest first, and
   * returns how many were written. `out` is the caller's reusable scratch array.
   */
  walk(path: string, out: V[]): number {
    let n = this.root;
    let count = 0;
    if (n.value !== undefined) out[count++] = n.value;
    let i = 0;
    while (i < path.length) {
      const child = n.children?.get(path.charCodeAt(i));
      if (child === undefined || !path.startsWith(child.label, i)) break;
      i += child.label.length;
      n = child;
      if (n.value !== undefined) out[count++] = n.value;
    }
    return count;
  }

  /** Every stored value, in no particular order. */
  *values(): IterableIterator<V> {
    const stack: TrieNode<V>[] = [this.root];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (n.value !== undefined) yield n.value;
      if (n.children) for (const c of n.children.values()) stack.push(c);
    }
  }
}
