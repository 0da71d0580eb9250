/**
 * Load shedding under memory pressure (SPEC §5 "Limits and overload", after Envoy's overload
 * manager: a heap monitor and a `stop_accepting_requests` action). Memory in use is sampled every
 * `intervalMs`; at `shedAbove`% of the limit the monitor turns on shedding — the edge answers new
 * requests 503 `OM` — and turns it off only once use is under `resumeBelow`% (hysteresis: a process
 * hovering at the threshold does not flap). Each change is emitted once (`change`), so an episode is
 * logged once, not per request. Requests already admitted are never touched.
 *
 * What is measured (`heapSample`): V8's used heap plus its external memory (the Buffers request and
 * response bodies sit in, which `--max-old-space-size` does not cover but which the GC is told
 * about), against V8's heap limit. Large bodies and slow readers grow the second term, so a flood of
 * them is shed too, before the heap itself is at risk.
 *
 * Used heap counts garbage until a collection runs, and an idle V8 does not collect: Buffers freed by
 * a finished flood would keep the figure high, and shedding on, for as long as the process stays
 * quiet. So a sample over the threshold is confirmed by a full collection (`collect`, at most once
 * per `collectEveryMs`) before shedding starts, and while shedding, a collection lets the figure fall
 * to what is really live. Garbage alone never sheds a request.
 *
 * Between samples, bytes the data plane is about to buffer are added to the last sample (`hold`),
 * so a flood of bodies faster than the sampling starts shedding as soon as it crosses the mark.
 *
 * The timer is unref'd: it never keeps the process alive.
 */
import { EventEmitter } from 'node:events';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface OverloadOptions {
  /** Shed new requests at this share of the limit, percent (0–100]. Policy default 90. */
  shedAbove: number;
  /** Admit again below this share, percent (< shedAbove). Policy default 80. */
  resumeBelow: number;
  /** Sampling period, ms. Policy default 250. */
  intervalMs: number;
}

export interface MemorySample {
  /** Bytes in use. */
  readonly used: number;
  /** Bytes the process may use. */
  readonly limit: number;
}

export interface OverloadChange {
  readonly shedding: boolean;
  readonly sample: MemorySample;
  /** `used / limit`, percent. */
  readonly percent: number;
}

export interface OverloadEvents {
  change: [OverloadChange];
}

function percentOf(s: MemorySample): number {
  return (100 * s.used) / s.limit;
}

/** V8 heap used + external memory, against V8's heap limit. */
export function heapSample(): MemorySample {
  const h = getHeapStatistics();
  return { used: h.used_heap_size + h.external_memory, limit: h.heap_size_limit };
}

/**
 * A full garbage collection, from V8's `gc` (enabled at run time as `--expose-gc` would: the function
 * comes from a fresh context, so the process's own global scope is left as it was).
 */
export function fullCollection(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

export interface OverloadDeps {
  /** Memory in use now. Default `heapSample`. */
  readonly sample?: () => MemorySample;
  /** A full collection; without it, samples are taken as they come. Default none (the sidecar passes `fullCollection()`). */
  readonly collect?: (() => void) | undefined;
  /** At most one collection this often, ms. Default 1000. */
  readonly collectEveryMs?: number;
  /** Monotonic ms. Default `performance.now`. */
  readonly now?: () => number;
}

export class OverloadMonitor extends EventEmitter<OverloadEvents> {
  private options: OverloadOptions;
  private timer: NodeJS.Timeout | undefined;
  private active = false;
  private last: MemorySample = { used: 0, limit: 1 };
  private collectedAt = -Infinity;
  /** Bytes `hold` granted since the last sample (the next sample includes them). */
  private held = 0;
  private readonly sample: () => MemorySample;
  private readonly collect: (() => void) | undefined;
  private readonly collectEveryMs: number;
  private readonly now: () => number;

  constructor(options: OverloadOptions, deps: OverloadDeps = {}) {
    super();
    this.options = options;
    this.sample = deps.sample ?? heapSample;
    this.collect = deps.collect;
    this.collectEveryMs = deps.collectEveryMs ?? 1000;
    this.now = deps.now ?? (() => globalThis.performance.now());
  }

  /** True while new requests are to be shed. A field read: the request path pays nothing more. */
  get shedding(): boolean {
    return this.active;
  }

  /** The last sample, as a percentage of the limit. */
  get percent(): number {
    return percentOf(this.last);
  }

  /**
   * Bytes about to be held in memory (a body chunk being buffered for a retry). A sample every
   * `intervalMs` is too slow for a flood arriving over a fast link, so the bytes granted since the
   * last sample are added to it: when they would take memory past `shedAbove`, the answer is false
   * (the caller streams instead of buffering) and shedding starts at once, not at the next sample.
   */
  hold(bytes: number): boolean {
    if (this.active) return false;
    this.held += bytes;
    const estimate = { used: this.last.used + this.held, limit: this.last.limit };
    if (percentOf(estimate) < this.options.shedAbove) return true;
    this.active = true;
    this.emit('change', { shedding: true, sample: estimate, percent: percentOf(estimate) });
    return false;
  }

  /** Starts sampling (idempotent). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.check(), this.options.intervalMs).unref();
    this.check();
  }

  /** New settings (a reload): takes effect at once, the timer restarted if the interval changed. */
  configure(options: OverloadOptions): void {
    // The same settings (a reload that left `overload` alone): nothing to re-evaluate.
    const o = this.options;
    if (options.shedAbove === o.shedAbove && options.resumeBelow === o.resumeBelow && options.intervalMs === o.intervalMs) return;
    const restart = this.timer !== undefined && options.intervalMs !== this.options.intervalMs;
    this.options = options;
    if (restart) {
      this.stop();
      this.start();
    } else {
      this.check();
    }
  }

  /** One sample and the transition it implies. Public so tests can drive it without the timer. */
  check(): void {
    let s = this.sample();
    // Over the mark that would change nothing on its own: collect garbage and look again.
    const over = (x: MemorySample): boolean => percentOf(x) >= (this.active ? this.options.resumeBelow : this.options.shedAbove);
    if (over(s) && this.collect && this.now() - this.collectedAt >= this.collectEveryMs) {
      this.collectedAt = this.now();
      this.collect();
      s = this.sample();
    }
    this.last = s;
    this.held = 0;
    const next = over(s);
    if (next === this.active) return;
    this.active = next;
    this.emit('change', { shedding: next, sample: s, percent: percentOf(s) });
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
