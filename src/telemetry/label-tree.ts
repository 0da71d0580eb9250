/**
 * A cache of metric series keyed by label values: one nested `Map` per label, the series at the leaves.
 *
 * Why not prom-client's `labels()` children: in prom-client 15 a child still validates the label set
 * and concatenates the label hash string on every `inc`/`observe`. Here a lookup walks Maps keyed by
 * strings the policy owns (route, upstream and subset names live as long as their snapshot), and V8
 * keeps a string's hash inside the string, so a warm lookup computes no hash and allocates nothing.
 * The leaves are plain accumulators (cells.ts); prom-client reads them only at scrape time.
 */

/** Label name → value of one series. Shared, never mutated: prom-client caches its formatting by identity. */
export type Labels = Readonly<Record<string, string>>;

type Node = Map<string, unknown>;

/** Maximum labels per tree: enough for every metric here, and it keeps `get` free of rest arrays. */
const MAX_DEPTH = 4;

export class LabelTree<S extends { readonly labels: Labels }> {
  private readonly root: Node = new Map();
  private readonly depth: number;
  private count = 0;
  /** The last series `get` returned and its label values: consecutive requests mostly share them. */
  private lastA: string | undefined;
  private lastB = '';
  private lastC = '';
  private lastD = '';
  private last: S | undefined;

  constructor(readonly labelNames: readonly string[], private readonly create: (labels: Labels) => S) {
    if (labelNames.length < 1 || labelNames.length > MAX_DEPTH) throw new RangeError(`a LabelTree holds 1 to ${MAX_DEPTH} labels`);
    this.depth = labelNames.length;
  }

  /** Number of series. */
  get size(): number {
    return this.count;
  }

  /**
   * The series for these label values (in `labelNames` order), created on first use. Positional
   * parameters instead of an array or object: the hot path must not allocate.
   */
  get(a: string, b = '', c = '', d = ''): S {
    // The same values as last time (the same string objects, for names from the policy): four
    // comparisons of references instead of a `Map` lookup per label.
    if (a === this.lastA && b === this.lastB && c === this.lastC && d === this.lastD) return this.last!;
    const series = this.find(a, b, c, d);
    this.lastA = a;
    this.lastB = b;
    this.lastC = c;
    this.lastD = d;
    this.last = series;
    return series;
  }

  private find(a: string, b: string, c: string, d: string): S {
    const depth = this.depth;
    let node = this.root;
    if (depth > 1) node = branch(node, a);
    if (depth > 2) node = branch(node, b);
    if (depth > 3) node = branch(node, c);
    const key = depth === 1 ? a : depth === 2 ? b : depth === 3 ? c : d;
    const hit = node.get(key) as S | undefined;
    if (hit !== undefined) return hit;
    const labels: Record<string, string> = {};
    const values = [a, b, c, d];
    for (let i = 0; i < depth; i++) labels[this.labelNames[i]!] = values[i]!;
    const series = this.create(Object.freeze(labels));
    node.set(key, series);
    this.count++;
    return series;
  }

  /** Every series; for scrapes and pruning, never the request path. */
  values(): IterableIterator<S> {
    return this.walk(this.root, 1);
  }

  /** Removes every series for which `keep` is false; returns how many went. */
  prune(keep: (labels: Labels) => boolean): number {
    this.lastA = undefined;
    this.last = undefined;
    const removed = this.pruneNode(this.root, 1, keep);
    this.count -= removed;
    return removed;
  }

  private *walk(node: Node, level: number): IterableIterator<S> {
    for (const child of node.values()) {
      if (level === this.depth) yield child as S;
      else yield* this.walk(child as Node, level + 1);
    }
  }

  private pruneNode(node: Node, level: number, keep: (labels: Labels) => boolean): number {
    let removed = 0;
    // Deleting the current entry while iterating a Map is well-defined in JavaScript.
    for (const [key, child] of node) {
      if (level === this.depth) {
        if (!keep((child as S).labels)) { node.delete(key); removed++; }
      } else {
        removed += this.pruneNode(child as Node, level + 1, keep);
        if ((child as Node).size === 0) node.delete(key);
      }
    }
    return removed;
  }
}

function branch(node: Node, key: string): Node {
  let next = node.get(key) as Node | undefined;
  if (next === undefined) {
    next = new Map();
    node.set(key, next);
  }
  return next;
}
