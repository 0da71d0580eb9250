import { describe, expect, it } from 'vitest';
import { judge, warningOf, type Memory, type Position } from './progress.js';

const none: Memory = { abandoned: new Set() };
const at = (epoch: string, generation: number): Position => ({ epoch, generation });

describe('judge: a sidecar never goes backwards', () => {
  it.each([
    ['nothing served, a published store', undefined, { epoch: 'a', generation: 3 }, none, 'apply'],
    ['nothing served, an empty store', undefined, { epoch: undefined, generation: 0 }, none, 'empty'],
    ['newer generation, same epoch', at('a', 3), { epoch: 'a', generation: 4 }, none, 'apply'],
    ['the same generation', at('a', 3), { epoch: 'a', generation: 3 }, none, 'current'],
    ['an older generation of the same epoch (a restored backup)', at('a', 7), { epoch: 'a', generation: 5 }, none, 'behind'],
    ['an emptied store (Redis restarted without persistence)', at('a', 7), { epoch: undefined, generation: 0 }, none, 'empty'],
    ['a generation without an epoch (a hand-edited store)', at('a', 7), { epoch: undefined, generation: 9 }, none, 'empty'],
    ['a new epoch: reset, then published again — even at a lower number', at('a', 7), { epoch: 'b', generation: 1 }, none, 'apply'],
    ['an epoch already left (two servers behind one name)', at('b', 1), { epoch: 'a', generation: 7 }, { abandoned: new Set<string>(['a']) }, 'abandoned'],
    ['a generation already refused', at('a', 3), { epoch: 'a', generation: 4 }, { abandoned: new Set<string>(), refused: at('a', 4) }, 'refused'],
    ['the generation after a refused one', at('a', 3), { epoch: 'a', generation: 5 }, { abandoned: new Set<string>(), refused: at('a', 4) }, 'apply'],
  ] as Array<[string, Position | undefined, { epoch: string | undefined; generation: number }, Memory, string]>)('%s → %s', (_name, served, head, memory, kind) => {
    expect(judge(served, head, memory).kind).toBe(kind);
  });

  it('warns when it keeps a policy the store no longer has, and only then', () => {
    expect(warningOf({ kind: 'empty' }, at('a', 7), { epoch: undefined, generation: 0 })).toMatch(/store is empty.*keeping generation 7.*next publish/);
    expect(warningOf({ kind: 'behind' }, at('a', 7), { epoch: 'a', generation: 5 })).toMatch(/generation 5, behind the served 7/);
    expect(warningOf({ kind: 'empty' }, undefined, { epoch: undefined, generation: 0 })).toBeUndefined();
    expect(warningOf({ kind: 'current' }, at('a', 7), { epoch: 'a', generation: 7 })).toBeUndefined();
    expect(warningOf({ kind: 'apply' }, at('a', 7), { epoch: 'a', generation: 8 })).toBeUndefined();
  });
});
