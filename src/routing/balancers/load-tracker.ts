/**
 * Per-endpoint load shared by the load-aware balancers: requests in flight (least-request) and a
 * peak-EWMA latency estimate (ewma), Linkerd/Finagle style. The estimate jumps up to any slower
 * observation at once (a slow endpoint is avoided immediately) and otherwise moves toward new
 * observations with weight 1 − e^(−Δt/decay); it also decays toward zero while unobserved, so an
 * endpoint once slow — and therefore no longer chosen — is tried again after a while instead of
 * being starved forever.
 */

export interface LoadTrackerOptions {
  /** Latency assumed for an endpoint before its first response (ms). Default 30 (Linkerd's default RTT). */
  readonly defaultRttMs?: number;
  /** Decay time constant (ms): an observation's weight falls to 1/e after this long. Default 10 000 (Linkerd's). */
  readonly decayMs?: number;
  /** Monotonic clock in milliseconds. Default `performance.now`. */
  readonly now?: () => number;
  /** Tracked endpoints beyond which idle, long-unobserved ones are forgotten. Default 4096. */
  readonly maxTracked?: number;
  /**
   * Keep the latency estimate (`ewma` reads it). Default true; an upstream balanced otherwise only
   * needs the in-flight counts (least-request, /clusters), and skips a clock read and an `exp` per
   * request.
   */
  readonly latency?: boolean;
}

interface Stat {
  pending: number;
  /** Latency estimate (ms) as of `updatedAt`. */
  estimate: number;
  updatedAt: number;
}

export class LoadTracker {
  private readonly stats = new Map<string, Stat>();
  private readonly defaultRtt: number;
  private readonly decay: number;
  private readonly now: () => number;
  private readonly maxTracked: number;
  private readonly latency: boolean;

  constructor(options: LoadTrackerOptions = {}) {
    this.latency = options.latency ?? true;
    this.defaultRtt = options.defaultRttMs ?? 30;
    this.decay = options.decayMs ?? 10_000;
    this.now = options.now ?? (() => performance.now());
    this.maxTracked = options.maxTracked ?? 4096;
  }

  start(address: string): void {
    this.stat(address).pending++;
  }

  /**
   * Records a finished request. A failure counts as at least twice the current estimate: an
   * endpoint answering errors quickly must not look like the fastest one and attract more traffic,
   * while a single failure only doubles its cost (outlier detection deals with real breakage).
   */
  end(address: string, latencyMs: number, success: boolean): void {
    const s = this.stat(address);
    if (s.pending > 0) s.pending--;
    if (this.latency) this.observe(s, latencyMs, success);
    if (this.stats.size > this.maxTracked) this.prune(this.now());
  }

  private observe(s: Stat, latencyMs: number, success: boolean): void {
    const now = this.now();
    const w = Math.exp(-Math.max(0, now - s.updatedAt) / this.decay);
    const decayed = s.estimate * w;
    const rtt = success ? Math.max(0, latencyMs) : Math.max(latencyMs, 2 * decayed);
    s.estimate = rtt > decayed ? rtt : decayed + rtt * (1 - w);
    s.updatedAt = now;
  }

  /** Requests in flight to `address`. */
  pending(address: string): number {
    return this.stats.get(address)?.pending ?? 0;
  }

  /** The latency estimate (ms), decayed to now. */
  estimate(address: string): number {
    const s = this.stat(address);
    const now = this.now();
    if (now > s.updatedAt) {
      s.estimate *= Math.exp(-(now - s.updatedAt) / this.decay);
      s.updatedAt = now;
    }
    return s.estimate;
  }

  /** Peak-EWMA cost: the latency estimate weighted by the load the request would join. */
  cost(address: string): number {
    return this.estimate(address) * (this.pending(address) + 1);
  }

  private stat(address: string): Stat {
    let s = this.stats.get(address);
    if (s === undefined) {
      s = { pending: 0, estimate: this.defaultRtt, updatedAt: this.now() };
      this.stats.set(address, s);
    }
    return s;
  }

  private prune(now: number): void {
    const horizon = now - 5 * this.decay;
    for (const [address, s] of this.stats) if (s.pending === 0 && s.updatedAt < horizon) this.stats.delete(address);
  }
}
