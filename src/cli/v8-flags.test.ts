import { describe, expect, it } from 'vitest';
import { hasHeapSizing, reexecEnv } from './v8-flags.js';

describe('hasHeapSizing', () => {
  it.each([
    [['--max-semi-space-size=4'], undefined, true],
    [['--max_semi_space_size=8'], undefined, true],
    [['--max-semi-space-size', '8'], undefined, true],
    [[], '--max-old-space-size=100 --max-semi-space-size=2', true],
    [[], '--max-heap-size=300', true],
    [['--enable-source-maps'], '--max-old-space-size=100', false],
    [[], undefined, false],
    [['--max-semi-space-sizes=4'], '', false],
  ])('%j with NODE_OPTIONS %j: %s', (execArgv, nodeOptions, want) => {
    expect(hasHeapSizing(execArgv, nodeOptions)).toBe(want);
  });
});

describe('reexecEnv', () => {
  it('adds the sidecar\'s environment under what the user set, and marks the re-execution', () => {
    expect(reexecEnv({ PATH: '/bin' })).toEqual({ PATH: '/bin', MALLOC_ARENA_MAX: '1', MALLOC_TRIM_THRESHOLD_: '131072', MALLOC_MMAP_THRESHOLD_: '4194304', PILOTFISH_REEXECUTED: '1' });
    expect(reexecEnv({ MALLOC_ARENA_MAX: '4' })).toMatchObject({ MALLOC_ARENA_MAX: '4' });
  });
});
