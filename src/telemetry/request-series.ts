/**
 * Everything one (direction, route, upstream, subset) records per request: the duration histogram and
 * the `pilotfish_requests_total` counters below it, one per status code and flag set. A request costs
 * one histogram observation and, for the common flag-less answer, one `Map.get` by a small integer.
 */
import { CounterCell, HistogramCell } from './cells.js';
import type { Labels } from './label-tree.js';

export class RequestSeries {
  readonly duration: HistogramCell;
  /** Flag-less answers by status: the hot path, keyed by the number itself. */
  private readonly plain = new Map<number, CounterCell>();
  /** Answers carrying flags (errors the sidecar shaped): rare, so a joined string key is fine. */
  private readonly flagged = new Map<string, CounterCell>();

  constructor(readonly labels: Labels, buckets: readonly number[]) {
    this.duration = new HistogramCell(labels, buckets);
  }

  record(status: number, flags: readonly string[], seconds: number): void {
    this.duration.observe(seconds);
    this.counter(status, flags).value++;
  }

  /** The `pilotfish_requests_total` cell for this status and flag set; the same object on every call. */
  counter(status: number, flags: readonly string[]): CounterCell {
    if (flags.length === 0) {
      let cell = this.plain.get(status);
      if (cell === undefined) {
        cell = this.make(status, '');
        this.plain.set(status, cell);
      }
      return cell;
    }
    const joined = flags.length === 1 ? flags[0]! : flags.join(',');
    const key = `${status} ${joined}`;
    let cell = this.flagged.get(key);
    if (cell === undefined) {
      cell = this.make(status, joined);
      this.flagged.set(key, cell);
    }
    return cell;
  }

  *counters(): IterableIterator<CounterCell> {
    yield* this.plain.values();
    yield* this.flagged.values();
  }

  private make(status: number, flags: string): CounterCell {
    return new CounterCell(Object.freeze({ ...this.labels, code: String(status), flags }));
  }
}
