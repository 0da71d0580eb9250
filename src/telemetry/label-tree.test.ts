import { describe, expect, it } from 'vitest';
import { CounterCell } from './cells.js';
import { LabelTree } from './label-tree.js';

describe('LabelTree', () => {
  it.each([1, 2, 3, 4])('keys series by %i label values', (depth) => {
    const names = ['a', 'b', 'c', 'd'].slice(0, depth);
    const tree = new LabelTree(names, (l) => new CounterCell(l));
    const x = tree.get('1', '2', '3', '4');
    expect(tree.get('1', '2', '3', '4')).toBe(x);
    expect(x.labels).toEqual(Object.fromEntries(names.map((n, i) => [n, String(i + 1)])));
    expect(Object.isFrozen(x.labels)).toBe(true);
    const y = tree.get('9', '2', '3', '5');
    expect(y).not.toBe(x);
    expect(tree.size).toBe(2);
    expect([...tree.values()]).toEqual([x, y]);
  });

  it('prunes leaves and the branches they leave empty', () => {
    const tree = new LabelTree(['route', 'upstream'], (l) => new CounterCell(l));
    tree.get('r1', 'u1');
    tree.get('r1', 'u2');
    tree.get('r2', 'u1');
    expect(tree.prune((l) => l.upstream === 'u1')).toBe(1);
    expect(tree.prune((l) => l.route === 'r2')).toBe(1);
    expect(tree.size).toBe(1);
    expect([...tree.values()].map((c) => c.labels)).toEqual([{ route: 'r2', upstream: 'u1' }]);
    // After pruning, the same values build a fresh series.
    const again = tree.get('r1', 'u1');
    expect(again.value).toBe(0);
  });

  it('after a prune, the series it last returned is not handed out again', () => {
    const tree = new LabelTree(['route', 'upstream'], (l) => new CounterCell(l));
    const x = tree.get('r1', 'u1');
    x.inc();
    expect(tree.get('r1', 'u1')).toBe(x);
    expect(tree.prune((l) => l.upstream !== 'u1')).toBe(1);
    const again = tree.get('r1', 'u1');
    expect(again).not.toBe(x);
    expect(again.value).toBe(0);
    expect(tree.size).toBe(1);
  });

  it('rejects depths it cannot key without allocating', () => {
    expect(() => new LabelTree([], (l) => new CounterCell(l))).toThrow(RangeError);
    expect(() => new LabelTree(['a', 'b', 'c', 'd', 'e'], (l) => new CounterCell(l))).toThrow(RangeError);
  });
});
