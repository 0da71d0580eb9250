/**
 * Whether fleet-wide limits are shared right now, or decided by local buckets because the fleet's
 * store cannot be reached: one switch for every fleet limiter of a sidecar (they share one Redis
 * connection, so they share its fate), so an outage is one *episode* — entered once, reported once,
 * left once — however many routes and keys notice it.
 *
 * Entering is immediate (a lost connection, a failed lease, a lease nobody could wait for). Leaving
 * takes proof: a lease answered within the wait limit. While it is active, limiters send at most
 * one cheap probe per `probeMs` (fleet-wide), and `probeSoon()` — the connection is back — lets the
 * next request probe at once, so the shared bucket resumes within a round trip of Redis returning.
 */

export interface FallbackEvents {
  /** An episode began: local buckets decide from now on. */
  readonly enter?: (reason: string) => void;
  /** It ended after `ms`: the shared buckets decide again. */
  readonly leave?: (ms: number) => void;
}

export interface FallbackSwitchOptions {
  /** Least time between two probes while in fallback, ms. Default 250. */
  readonly probeMs?: number;
  /** Monotonic clock, ms. Default `performance.now` (the global, so fake timers drive it). */
  readonly now?: () => number;
}

export class FallbackSwitch {
  private on = false;
  private began = 0;
  private why = '';
  private nextProbe = 0;
  private readonly probeMs: number;
  private readonly now: () => number;
  /** Episodes so far (explain, tests). */
  episodes = 0;

  constructor(private readonly events: FallbackEvents = {}, o: FallbackSwitchOptions = {}) {
    this.probeMs = o.probeMs ?? 250;
    this.now = o.now ?? (() => globalThis.performance.now());
  }

  /** Whether local buckets decide now. */
  get active(): boolean { return this.on; }
  /** Why the current (or last) episode began. */
  get reason(): string { return this.why; }
  /** How long the current episode has lasted, ms (0 when none). */
  get elapsed(): number { return this.on ? this.now() - this.began : 0; }

  /** Starts an episode (no-op during one). */
  enter(reason: string): void {
    if (this.on) return;
    this.on = true;
    this.why = reason;
    this.began = this.now();
    this.nextProbe = this.began + this.probeMs;
    this.episodes++;
    this.events.enter?.(reason);
  }

  /** Ends the episode (no-op outside one). */
  leave(): void {
    if (!this.on) return;
    this.on = false;
    this.events.leave?.(this.now() - this.began);
  }

  /** Whether a probe may go out at `now`; a true answer claims it (the next is `probeMs` later). */
  claimProbe(now: number): boolean {
    if (!this.on || now < this.nextProbe) return false;
    this.nextProbe = now + this.probeMs;
    return true;
  }

  /** The store's connection is back: the next request may probe at once. */
  probeSoon(): void {
    this.nextProbe = 0;
  }
}
