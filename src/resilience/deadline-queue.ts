/**
 * Per-try deadlines without a Node `Timeout` each. A try's timer is almost always cleared — the
 * answer comes first — and `setTimeout` + `clearTimeout` per try (a `Timeout` object, its async id,
 * libuv's clock, the insert into and removal from Node's timer list) is work a bare proxy does not
 * do. Here an entry is linked into the list of its duration (FIFO, so sorted by deadline: every
 * entry of a list waits as long) and unlinked when it settles; each list keeps one Node timer, armed
 * for its oldest entry and not moved when that entry leaves early — it fires at that deadline,
 * expires what is due and re-arms for the oldest entry left. A list without entries lets its timer
 * go unref'd (it holds no process open) and is forgotten when that timer fires.
 *
 * The entries are the callers' own objects (`Deadline`, extended), so a try allocates nothing.
 * Durations are whole milliseconds, as Node's timers are. A deadline fires at its time or up to a
 * millisecond past it, as a Node timer does.
 */
import { systemClock, type Clock } from './clock.js';

/** What the queue times: the caller's object, extending this. */
export abstract class Deadline {
  /** When it expires (the clock's `now()`); meaningful while queued. */
  deadlineAt = 0;
  deadlinePrev: Deadline | undefined = undefined;
  deadlineNext: Deadline | undefined = undefined;
  /** The list it is queued in; undefined when not queued. */
  deadlineList: DeadlineList | undefined = undefined;

  /** Its time came while it was still queued (it has left the queue). */
  abstract expire(): void;
}

/** The entries of one duration, oldest first, and their timer. */
class DeadlineList {
  head: Deadline | undefined = undefined;
  tail: Deadline | undefined = undefined;
  timer: NodeJS.Timeout | undefined = undefined;

  constructor(readonly queue: DeadlineQueue, readonly ms: number) {}
}

export class DeadlineQueue {
  private readonly lists = new Map<number, DeadlineList>();
  /** The list used last: tries of a route share a duration, so it is usually the next one's too. */
  private last: DeadlineList | undefined;

  constructor(private readonly clock: Clock = systemClock) {}

  /** Queues `entry` to expire `ms` (≥ 1, whole) from now; it must not be queued already. */
  add(entry: Deadline, ms: number): void {
    let list = this.last;
    if (list === undefined || list.ms !== ms) {
      list = this.lists.get(ms);
      if (list === undefined) this.lists.set(ms, (list = new DeadlineList(this, ms)));
      this.last = list;
    }
    entry.deadlineAt = this.clock.now() + ms;
    entry.deadlineList = list;
    entry.deadlinePrev = list.tail;
    entry.deadlineNext = undefined;
    if (list.tail === undefined) {
      list.head = entry;
      // The timer, when there is one, is armed for an earlier deadline: it re-arms for this one.
      if (list.timer === undefined) list.timer = setTimeout(fire, ms, list);
      else list.timer.ref();
    } else list.tail.deadlineNext = entry;
    list.tail = entry;
  }

  /** Takes `entry` out (it settled); nothing when it is not queued. */
  remove(entry: Deadline): void {
    const list = entry.deadlineList;
    if (list === undefined) return;
    unlink(list, entry);
    if (list.head === undefined) list.timer?.unref();
  }

  /** Entries queued now (tests). */
  get size(): number {
    let n = 0;
    for (const list of this.lists.values()) for (let e = list.head; e !== undefined; e = e.deadlineNext) n++;
    return n;
  }

  /** The list's timer fired: expire what is due, then re-arm for the oldest entry left or forget the list. */
  expireDue(list: DeadlineList): void {
    list.timer = undefined;
    const now = this.clock.now();
    try {
      // Up to a millisecond early counts as due: Node starts a timer from the event loop's cached time.
      for (let e = list.head; e !== undefined && e.deadlineAt - now < 1; e = list.head) {
        unlink(list, e);
        e.expire();
      }
    } finally { // an entry that throws does not strand the ones behind it
      const head = list.head;
      if (head !== undefined) list.timer = setTimeout(fire, Math.max(1, Math.ceil(head.deadlineAt - now)), list);
      else if (this.lists.get(list.ms) === list) {
        this.lists.delete(list.ms);
        if (this.last === list) this.last = undefined;
      }
    }
  }
}

function unlink(list: DeadlineList, entry: Deadline): void {
  const { deadlinePrev: prev, deadlineNext: next } = entry;
  if (prev === undefined) list.head = next;
  else prev.deadlineNext = next;
  if (next === undefined) list.tail = prev;
  else next.deadlinePrev = prev;
  entry.deadlinePrev = entry.deadlineNext = entry.deadlineList = undefined;
}

function fire(list: DeadlineList): void {
  list.queue.expireDue(list);
}

/** The process's per-try deadlines (every engine's attempts). */
export const tryDeadlines = new DeadlineQueue();
