import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Deadline, DeadlineQueue } from './deadline-queue.js';

class Entry extends Deadline {
  expiredAt: number | undefined;
  constructor(readonly name: string, private readonly log: string[], private readonly onExpire?: () => void) { super(); }
  expire(): void {
    this.expiredAt = performance.now();
    this.log.push(this.name);
    this.onExpire?.();
  }
}

describe('DeadlineQueue', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('expires each entry at its own deadline, across durations, and not before', () => {
    const q = new DeadlineQueue();
    const log: string[] = [];
    const t0 = performance.now();
    const a = new Entry('a', log), b = new Entry('b', log), c = new Entry('c', log);
    q.add(a, 100);
    vi.advanceTimersByTime(30);
    q.add(b, 100); // due at 130
    q.add(c, 50); // due at 80, another duration
    vi.advanceTimersByTime(49);
    expect(log).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(log).toEqual(['c']);
    vi.advanceTimersByTime(20);
    expect(log).toEqual(['c', 'a']);
    vi.advanceTimersByTime(29);
    expect(log).toEqual(['c', 'a']);
    vi.advanceTimersByTime(1);
    expect(log).toEqual(['c', 'a', 'b']);
    expect([a.expiredAt! - t0, b.expiredAt! - t0, c.expiredAt! - t0]).toEqual([100, 130, 80]);
    expect(q.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0); // lists with nothing left are forgotten with their timer
  });

  it('never expires a removed entry; the timer armed for it re-arms for the next', () => {
    const q = new DeadlineQueue();
    const log: string[] = [];
    const t0 = performance.now();
    const a = new Entry('a', log), b = new Entry('b', log), c = new Entry('c', log);
    q.add(a, 100);
    vi.advanceTimersByTime(10);
    q.add(b, 100);
    vi.advanceTimersByTime(10);
    q.add(c, 100);
    q.remove(a);
    q.remove(c);
    q.remove(c); // idempotent
    expect(q.size).toBe(1);
    vi.advanceTimersByTime(100);
    expect(log).toEqual(['b']);
    expect(b.expiredAt! - t0).toBe(110);
    // Requeued after settling: a fresh deadline.
    q.add(a, 100);
    vi.advanceTimersByTime(100);
    expect(log).toEqual(['b', 'a']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an entry that throws on expiry does not strand the entries behind it', () => {
    const q = new DeadlineQueue();
    const log: string[] = [];
    q.add(new Entry('a', log, () => { throw new Error('boom'); }), 10);
    q.add(new Entry('b', log), 10);
    q.add(new Entry('c', log), 20);
    expect(() => vi.advanceTimersByTime(10)).toThrow('boom');
    vi.advanceTimersByTime(10);
    expect(log).toEqual(['a', 'b', 'c']);
  });

  it('an entry added from an expiry is timed from then', () => {
    const q = new DeadlineQueue();
    const log: string[] = [];
    const t0 = performance.now();
    const later = new Entry('later', log);
    q.add(new Entry('first', log, () => q.add(later, 10)), 10);
    vi.advanceTimersByTime(19);
    expect(log).toEqual(['first']);
    vi.advanceTimersByTime(1);
    expect(log).toEqual(['first', 'later']);
    expect(later.expiredAt! - t0).toBe(20);
  });
});
