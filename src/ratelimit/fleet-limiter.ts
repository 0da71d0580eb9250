/**
 * A fleet-wide rate limit (`scope: fleet`): one bucket per route (and per key) shared by every sidecar
 * of the fleet, kept in the fleet's store, which grants tokens atomically by its own clock
 * (src/fleet/rate-limits.ts). This is the sidecar's side, pure: what it asks for and when, and what
 * it does when the store cannot answer.
 *
 * **A local allowance, leased in batches.** A sidecar does not ask the store per request: it leases a
 * batch of tokens and spends them from memory, synchronously. A batch is about `LEASE_SPAN_MS` of the
 * sidecar's share of the rate (`requests / N` for N live sidecars), at least 1 and at most its share
 * of the burst (`burst / N`). A sidecar that spent its previous batch quickly (asked again within
 * `LEASE_TTL_MS / 2`) leases the next one *before* it runs out — when half a batch is left — so a
 * busy route's requests never wait. An idle or slow route leases on demand: its first request waits
 * for the lease (one round trip), and so do requests arriving meanwhile, up to a burst — when the
 * lease brings all it asked for and more wait, the rest is asked for at once, so a burst at a quiet
 * sidecar passes as it would a local bucket. Tokens unspent after `LEASE_TTL_MS` are dropped.
 *
 * **Overshoot.** The store never grants more than the exact bucket would (`burst + rate × t` by its
 * clock); a sidecar only spends what it was granted, later than it was granted. So over any window
 * the fleet admits at most the exact bucket's count plus the tokens the sidecars held when the window
 * began: `N × (batch + ⌊batch / 2⌋)`, about 150 ms of the rate (never more than 1.5 × the burst, or N
 * tokens when batches are single tokens). Dropped tokens err the other way, by at most a batch per
 * sidecar when demand stops.
 *
 * **A slow store.** No request waits longer than `LEASE_WAIT_MS`: one that would is decided by the
 * local fallback bucket, and what that admits is owed — paid back from the next tokens leased — so a
 * slow Redis does not lift the limit. Slow is not gone (a stall of a busy machine looks the same): it
 * starts no episode.
 *
 * **A store gone** (not connected, or a lease failed; an unanswered one fails after the link's
 * command timeout) starts an episode of the `FallbackSwitch`: every request is decided at once by a
 * local bucket at `requests / N` and `burst / N` (N the last count of live sidecars, at least 1), so
 * the fleet as a whole keeps about the limit; admitted requests go on as usual. A probe (a lease of
 * no tokens) at most every 250 ms, and at once after a reconnection, ends the episode when Redis
 * answers it. A sidecar that falls back alone adds at most its share to what the shared bucket grants
 * the others; fresh local buckets start full, so the switch itself can admit `burst / N` more.
 */
import { AllowanceTable, Allowance } from './allowance.js';
import { FallbackSwitch } from './fallback-switch.js';
import { compileRate, type Rate } from './gcra.js';
import type { LimiterStats, LocalLimiterOptions, RateLimiter } from './rate-limiter.js';
import { LocalRateLimiter } from './rate-limiter.js';

/** A batch covers about this much of a sidecar's share of the rate, ms. */
export const LEASE_SPAN_MS = 100;
/** Leased tokens unspent this long after they arrived are dropped, ms. */
export const LEASE_TTL_MS = 1000;
/** A request waits for a lease at most this long before a local bucket decides it, ms. */
export const LEASE_WAIT_MS = 100;

/** What the store answered to a lease. */
export interface Lease {
  /** Tokens granted, 0…want. */
  readonly granted: number;
  /** How long (ms, measured by the store) until `want` more tokens would fit; 0 if they do now. */
  readonly retryMs: number;
}

/** One route's shared buckets in the fleet's store. */
export interface SharedBuckets {
  /**
   * Takes up to `want` tokens from the shared bucket of `key` (undefined: the route's one). `want` 0
   * takes nothing: a probe of whether the store answers.
   */
  lease(key: string | undefined, want: number): Promise<Lease>;
}

/** What a fleet limiter needs to know of the fleet. */
export interface FleetView {
  /** Whether the store's connection is up now; false falls back at once, without asking. */
  connected(): boolean;
  /** Live sidecars of the fleet (their reports), ≥ 1; the last count while the store is unreachable. */
  sidecars(): number;
}

export interface FleetLimiterOptions extends LocalLimiterOptions {
  /** The shared buckets; undefined for a limiter that only explains (offline `explain`: no fleet). */
  readonly buckets: SharedBuckets | undefined;
  readonly view: FleetView;
  readonly fallback: FallbackSwitch;
  /** Called for each request a local bucket decided because of the fallback (a counter). */
  readonly onFallbackDecision?: () => void;
  /** Uniform in [0, 1) (tests pass a seeded one). Default `Math.random`. */
  readonly random?: () => number;
}

/** The fleet state of a limiter, for explain. */
export interface FleetLimiterState {
  /** `shared`: the fleet's bucket decides; `fallback`: a local one does; `detached`: no fleet here (offline explain). */
  readonly state: 'shared' | 'fallback' | 'detached';
  /** Live sidecars (N). */
  readonly sidecars: number;
  /** Tokens per lease now. */
  readonly batch: number;
  /** The local bucket a fallback uses: `requests / N`, `burst / N`. */
  readonly fallbackRate: Rate;
  /** Why the current episode began (fallback only). */
  readonly reason?: string;
}

export class FleetRateLimiter implements RateLimiter {
  readonly rate: Rate;
  private readonly interval: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly route = new Allowance(undefined);
  private keyed: AllowanceTable | undefined;
  private local: LocalRateLimiter | undefined;
  private localN = 0;
  private batchN = 0;
  private batchSize = 1;

  constructor(private readonly o: FleetLimiterOptions) {
    this.rate = { requests: o.requests, per: o.per, burst: o.burst };
    this.interval = compileRate(this.rate).interval;
    this.now = o.now ?? (() => globalThis.performance.now());
    this.random = o.random ?? Math.random;
  }

  take(key: string | undefined): number | Promise<number> {
    const now = this.now();
    const { fallback, view } = this.o;
    if (fallback.active || !view.connected() || !this.o.buckets) return this.degraded(key, now);
    const a = key === undefined ? this.route : (this.keyed ??= new AllowanceTable(this.o.maxKeys)).get(key);
    if (a.tokens > 0 && now - a.grantedAt > LEASE_TTL_MS) a.tokens = 0;
    if (a.tokens > 0) {
      a.tokens--;
      // Busy (the last batch went within half the ttl): lease the next one before this one runs out.
      const batch = this.batch();
      if (a.tokens <= batch >> 1 && !a.asking && now >= a.nextAt && now - a.askedAt < LEASE_TTL_MS / 2) this.ask(a, now, batch);
      return 0;
    }
    if (a.asking || a.waiters.length > 0) return this.join(a, now);
    if (now < a.nextAt) return a.nextAt - now; // the store said: no batch before then
    this.ask(a, now, this.batch());
    return this.join(a, now);
  }

  remaining(key: string | undefined): number {
    if (this.state() !== 'shared') return this.localLimiter().remaining(key);
    const a = key === undefined ? this.route : this.keyed?.peek(key);
    return a && this.now() - a.grantedAt <= LEASE_TTL_MS ? a.tokens : 0;
  }

  stats(): LimiterStats {
    const n = this.o.view.sidecars();
    const state = this.state();
    const fleet: FleetLimiterState = {
      state, sidecars: n, batch: this.batch(), fallbackRate: this.fallbackRate(n),
      ...(state === 'fallback' ? { reason: this.o.fallback.reason } : {}),
    };
    return { scope: 'fleet', keys: this.keyed?.size ?? 0, maxKeys: this.o.maxKeys, evictedLive: this.keyed?.evictedLive ?? 0, fleet };
  }

  private state(): FleetLimiterState['state'] {
    if (!this.o.buckets) return 'detached';
    return this.o.fallback.active || !this.o.view.connected() ? 'fallback' : 'shared';
  }

  /** Tokens per lease for the current N: ~LEASE_SPAN_MS of this sidecar's share, 1…burst/N. */
  private batch(): number {
    const n = this.o.view.sidecars();
    if (n !== this.batchN) {
      this.batchN = n;
      this.batchSize = Math.max(1, Math.min(Math.floor(LEASE_SPAN_MS / (this.interval * n)), Math.floor(this.rate.burst / n)));
    }
    return this.batchSize;
  }

  /** No shared bucket now: a local one at requests / N decides (and the store is probed, if it may be). */
  private degraded(key: string | undefined, now: number): number {
    const { fallback, view, buckets } = this.o;
    if (!buckets) return this.localLimiter().take(key);
    if (!fallback.active) fallback.enter('the fleet\'s Redis is not connected');
    else if (view.connected() && fallback.claimProbe(now)) this.probe(buckets, key);
    this.o.onFallbackDecision?.();
    return this.localLimiter().take(key);
  }

  /** A lease of nothing: answered, it ends the episode. */
  private probe(buckets: SharedBuckets, key: string | undefined): void {
    buckets.lease(key, 0).then(() => this.o.fallback.leave(), () => { /* still unreachable: the next probe tries again */ });
  }

  private ask(a: Allowance, now: number, want: number): void {
    a.asking = true;
    a.asked = want;
    a.askedAt = now;
    this.o.buckets!.lease(a.key, want).then((lease) => this.granted(a, lease), (err: unknown) => this.failed(a, err));
  }

  /**
   * A request waits for the lease in flight — at most LEASE_WAIT_MS from the moment the first of the
   * waiting group joined. More waiters than a burst could never pass at once: refused.
   */
  private join(a: Allowance, now: number): number | Promise<number> {
    if (a.waiters.length >= this.rate.burst) return Math.max(this.interval, a.nextAt - now);
    if (a.waiters.length === 0) {
      const group = ++a.group;
      a.deadline = setTimeout(() => {
        // The timer phase runs before the I/O phase: after a stall of this process both are due, and
        // an answer already on the socket must win (setImmediate runs after that turn's I/O).
        setImmediate(() => this.expired(a, group));
      }, LEASE_WAIT_MS);
    }
    return new Promise<number>((resolve) => { a.waiters.push(resolve); });
  }

  private granted(a: Allowance, lease: Lease): void {
    const now = this.now();
    a.asking = false;
    const paid = Math.min(a.debt, lease.granted);
    a.debt -= paid;
    if (lease.granted > paid) {
      a.tokens += lease.granted - paid;
      a.grantedAt = now;
    }
    // Every sidecar the store refused hears the same time; jitter keeps them from asking in
    // lockstep ever after (the first to ask would win every round). Nothing is lost meanwhile:
    // unclaimed tokens stay in the shared bucket, which holds a batch for each sidecar.
    // The store answered for `asked` tokens; the next lease asks for a batch (fewer, after a burst).
    const retry = Math.max(0, lease.retryMs - Math.max(0, a.asked - this.batch()) * this.interval);
    a.nextAt = now + retry * (1 + this.random() / 2);
    this.o.fallback.leave(); // Redis answers: whatever was wrong is over
    const w = a.waiters;
    let served = 0;
    while (served < w.length && a.tokens > 0) { a.tokens--; w[served++]!(0); }
    w.splice(0, served);
    if (w.length === 0) { this.endGroup(a); return; }
    // More waiting than this lease asked for (a burst met a dry allowance): if the shared bucket
    // holds another token now (it gave all it was asked, and one more fits at once), ask for the
    // rest; they keep waiting, within the deadline.
    const oneMore = lease.retryMs - (a.asked - 1) * this.interval;
    if (lease.granted === a.asked && oneMore <= 1e-6) { this.ask(a, now, Math.min(w.length, this.rate.burst)); return; }
    const wait = Math.max(this.interval, a.nextAt - now);
    for (const resolve of w.splice(0)) resolve(wait);
    this.endGroup(a);
  }

  private failed(a: Allowance, err: unknown): void {
    a.asking = false;
    this.o.fallback.enter(`a lease from the fleet's Redis failed: ${err instanceof Error ? err.message : String(err)}`);
    a.debt = 0; // an episode decides locally by design; nothing is owed to a bucket it cannot reach
    this.decideLocally(a, false);
  }

  /**
   * Nobody waits longer than LEASE_WAIT_MS: the waiters are decided locally. What the local bucket
   * admits is *owed* to the shared one — the next tokens leased pay it back first — so a slow Redis
   * does not lift the fleet's limit by a local bucket per sidecar. A slow answer is not a lost Redis
   * (a stall of this machine looks the same), so no episode starts: an unanswered command fails after
   * the link's command timeout (1 s), and that does.
   */
  private expired(a: Allowance, group: number): void {
    if (a.group !== group || a.waiters.length === 0) return; // answered meanwhile
    this.decideLocally(a, true);
  }

  private decideLocally(a: Allowance, owed: boolean): void {
    const waiters = a.waiters.splice(0);
    this.endGroup(a);
    for (const resolve of waiters) {
      this.o.onFallbackDecision?.();
      const wait = this.localLimiter().take(a.key);
      if (wait === 0 && owed) a.debt++;
      resolve(wait);
    }
  }

  /** The waiting group is over: its deadline goes, and a later one is a new group. */
  private endGroup(a: Allowance): void {
    a.group++;
    this.clearDeadline(a);
  }

  private clearDeadline(a: Allowance): void {
    if (a.deadline) { clearTimeout(a.deadline); a.deadline = undefined; }
  }

  /** The local bucket of a fallback, for the current N (kept while N is unchanged: a flapping store grants no fresh bursts). */
  private localLimiter(): LocalRateLimiter {
    const n = this.o.buckets ? this.o.view.sidecars() : 1;
    if (!this.local || n !== this.localN) {
      this.localN = n;
      this.local = new LocalRateLimiter({ ...this.fallbackRate(n), maxKeys: this.o.maxKeys, ...(this.o.now ? { now: this.o.now } : {}) });
    }
    return this.local;
  }

  private fallbackRate(n: number): Rate {
    return { requests: this.rate.requests / n, per: this.rate.per, burst: Math.max(1, Math.round(this.rate.burst / n)) };
  }
}

const NO_FLEET: FleetView = { connected: () => false, sidecars: () => 1 };

/** A fleet limiter without a fleet (offline `explain`): it explains the bucket and decides locally, at N = 1. */
export function detachedFleetLimiter(spec: LocalLimiterOptions): FleetRateLimiter {
  return new FleetRateLimiter({ requests: spec.requests, per: spec.per, burst: spec.burst, maxKeys: spec.maxKeys, buckets: undefined, view: NO_FLEET, fallback: new FallbackSwitch() });
}
