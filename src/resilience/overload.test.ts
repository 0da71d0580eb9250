import { afterEach, describe, expect, it, vi } from 'vitest';
import { fullCollection, heapSample, OverloadMonitor, type OverloadChange } from './overload.js';

afterEach(() => { vi.useRealTimers(); });

function scripted(percents: number[]): () => { used: number; limit: number } {
  let i = 0;
  return () => ({ used: percents[Math.min(i++, percents.length - 1)]! * 10, limit: 1000 });
}

describe('OverloadMonitor', () => {
  it('sheds at shedAbove, keeps shedding down to resumeBelow, and emits each change once', () => {
    const m = new OverloadMonitor({ shedAbove: 90, resumeBelow: 80, intervalMs: 100 }, { sample: scripted([50, 89, 90, 95, 85, 80.5, 79.9, 85, 89.9, 91]) });
    const changes: OverloadChange[] = [];
    m.on('change', (c) => changes.push(c));
    const seen: boolean[] = [];
    for (let i = 0; i < 10; i++) { m.check(); seen.push(m.shedding); }
    expect(seen).toEqual([false, false, true, true, true, true, false, false, false, true]);
    expect(changes.map((c) => [c.shedding, Math.round(c.percent * 10) / 10])).toEqual([[true, 90], [false, 79.9], [true, 91]]);
  });

  it('samples on an unref\'d timer, and new settings apply at once', () => {
    vi.useFakeTimers();
    const sample = vi.fn(scripted([85]));
    const m = new OverloadMonitor({ shedAbove: 90, resumeBelow: 80, intervalMs: 100 }, { sample });
    m.start();
    vi.advanceTimersByTime(1000);
    expect(sample).toHaveBeenCalledTimes(11);
    expect(m.shedding).toBe(false);
    m.configure({ shedAbove: 84, resumeBelow: 70, intervalMs: 100 });
    expect(m.shedding).toBe(true);
    m.configure({ shedAbove: 84, resumeBelow: 70, intervalMs: 500 });
    sample.mockClear();
    m.configure({ shedAbove: 84, resumeBelow: 70, intervalMs: 500 }); // unchanged: no sample, no restart
    expect(sample).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1000);
    expect(sample).toHaveBeenCalledTimes(2);
    m.stop();
    vi.advanceTimersByTime(1000);
    expect(sample).toHaveBeenCalledTimes(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('garbage never sheds: a sample over the mark is confirmed after a collection, at most once a second', () => {
    let used = 95;
    let now = 0;
    const collect = vi.fn(() => { used = 50; }); // it was all garbage
    const m = new OverloadMonitor({ shedAbove: 90, resumeBelow: 80, intervalMs: 100 }, { sample: () => ({ used, limit: 100 }), collect, now: () => now });
    m.check();
    expect([m.shedding, collect.mock.calls.length]).toEqual([false, 1]);
    used = 95; now += 500; m.check(); // too soon for another collection: the sample stands
    expect([m.shedding, collect.mock.calls.length]).toEqual([true, 1]);
    now += 600; m.check(); // shedding, still over resumeBelow: collect, and the garbage goes
    expect([m.shedding, collect.mock.calls.length]).toEqual([false, 2]);
    collect.mockImplementation(() => { used = 93; }); // live memory: the collection frees little
    used = 99; now += 2000; m.check();
    expect([m.shedding, collect.mock.calls.length]).toEqual([true, 3]);
  });

  it('fullCollection() frees Buffers nothing holds any more', () => {
    const collect = fullCollection();
    let held: Buffer[] | undefined = Array.from({ length: 40 }, () => Buffer.alloc(1024 * 1024, 1));
    const before = heapSample().used;
    expect(held.length).toBe(40);
    held = undefined;
    collect(); collect();
    expect(before - heapSample().used).toBeGreaterThan(30 * 1024 * 1024);
    expect(held).toBeUndefined();
  });

  it('measures the V8 heap plus the external memory Buffers hold', () => {
    const before = heapSample();
    const held = Buffer.alloc(64 * 1024 * 1024, 1);
    const after = heapSample();
    expect(after.used - before.used).toBeGreaterThanOrEqual(60 * 1024 * 1024);
    expect(after.limit).toBeGreaterThan(0);
    expect(held.length).toBe(64 * 1024 * 1024);
  });
});
