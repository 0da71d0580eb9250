/**
 * Fleet-wide rate limits (`scope: fleet`, SPEC §5 "Rate limits"): the store's side of
 * src/ratelimit/fleet-limiter.ts, which holds the allowance logic. Here:
 *
 * - **The shared buckets**: one Redis key per route's rate (and per key), holding the bucket's GCRA
 *   `tat` in the *server's* milliseconds (`TIME`), so sidecars' clocks do not matter. A lease is one
 *   Lua script: read, grant as many of the asked tokens as fit, write, answer how long until a batch
 *   fits again — atomic on the server, so concurrent sidecars never over-grant. A full bucket is no
 *   key (it expires as it refills), so idle keys cost Redis nothing. The rate is part of the key: a
 *   changed limit starts afresh fleet-wide, and two generations live at once during a rollout do not
 *   share a bucket with different rates.
 * - **N**: live sidecars of the fleet, counted from their reports (one ZCOUNT by the server's clock
 *   every 2 s; a drop believed when two counts agree); the last count stays while Redis is
 *   unreachable, which is when the fallback needs it.
 * - **The fallback episode**, one for all of this sidecar's fleet limits: logged once when it begins
 *   and once when it ends; `pilotfish_rate_limit_fallback_active` (0/1) and
 *   `pilotfish_rate_limit_fallback_total{route}` (requests decided by local buckets) count it.
 */
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import {
  compileRate, FallbackSwitch, FleetRateLimiter, type FleetView, type RateLimiter, type RateLimitSpec, type SharedBuckets,
} from '../ratelimit/index.js';
import type { ScriptCall } from './redis.js';
import { REPORT_EVERY_MS, REPORT_TTL_MS } from './report.js';
import type { FleetStore } from './store.js';

// KEYS[1] the bucket; ARGV[1] emission interval T (ms), ARGV[2] tolerance τ (ms), ARGV[3] tokens
// wanted, ≤ burst (0: a probe, nothing taken); ARGV[4], tests only, a time standing in for the
// server's. The same arithmetic as gcraLease (src/ratelimit/gcra.ts), which a test holds it to.
// Floats go out as strings: Lua numbers returned to Redis are truncated to integers, and tostring
// keeps only 14 digits of a millisecond timestamp.
export const LEASE_SCRIPT = `
local now
if ARGV[4] then now = tonumber(ARGV[4]) else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local fit = math.floor((tolerance - (tat - now)) / interval + 1e-9) + 1
if fit < 0 then fit = 0 end
local granted = math.min(want, fit)
if granted > 0 then
  tat = tat + granted * interval
  redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1)
end
local retry = tat - now - tolerance + (want - 1) * interval
if retry < 0 then retry = 0 end
return {granted, string.format('%.3f', retry)}
`;

export class FleetRateLimits {
  private readonly fallback: FallbackSwitch;
  private readonly leaseScript: ScriptCall;
  private live = 0;
  /** The last count was lower than `live` (not yet believed). */
  private lower = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private decisions: Counter<'route'> | undefined;
  private readonly view: FleetView = { connected: () => this.store.link.commandReady, sidecars: () => this.sidecars() };

  constructor(private readonly store: FleetStore, log: Logger, registry?: Registry) {
    this.leaseScript = store.link.script(LEASE_SCRIPT);
    this.fallback = new FallbackSwitch({
      enter: (reason) => log.warn({ reason, sidecars: this.sidecars() },
        'rate limits: the fleet\'s Redis is unreachable; fleet-wide limits fall back to local buckets at requests / N'),
      leave: (ms) => log.info({ afterMs: Math.round(ms) }, 'rate limits: the fleet\'s Redis answers again; fleet-wide limits are shared again'),
    });
    if (registry) this.registerMetrics(registry);
  }

  /** `LimiterFactories.fleet`: the limiter of `route` for `spec`. */
  readonly limiter = (spec: RateLimitSpec, route: string): RateLimiter => {
    this.start();
    const counted = this.decisions?.labels({ route });
    return new FleetRateLimiter({
      requests: spec.requests, per: spec.per, burst: spec.burst, maxKeys: spec.maxKeys,
      buckets: this.buckets(route, spec), view: this.view, fallback: this.fallback,
      ...(counted ? { onFallbackDecision: () => counted.inc() } : {}),
    });
  };

  /** Live sidecars of the fleet, at least 1 (this one, when nothing was counted yet). */
  sidecars(): number {
    return Math.max(1, this.live);
  }

  /** For `/config_dump`'s fleet block. */
  describe(): Record<string, unknown> {
    const f = this.fallback;
    return { fallback: f.active, reason: f.active ? f.reason : null, sidecars: this.sidecars(), episodes: f.episodes };
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** Counting N starts with the first fleet limit: a fleet without one sends nothing for it. */
  private start(): void {
    if (this.timer || this.stopped) return;
    const refresh = (): void => {
      this.store.liveCount(REPORT_TTL_MS).then((n) => this.counted(n), () => { /* unreachable: keep the last count */ });
    };
    this.timer = setInterval(refresh, REPORT_EVERY_MS);
    this.timer.unref();
    refresh();
    // Back after an outage: count again, and let the next request probe the shared buckets at once.
    this.store.link.onReady(() => { this.fallback.probeSoon(); refresh(); });
  }

  /**
   * A higher count is taken at once; a lower one only when the next count agrees. Sidecars report
   * every 2 s, so a Redis that just restarted (empty) holds a few reports before it holds them all:
   * one low reading must not make every batch — and the next fallback's share — too large.
   */
  private counted(n: number): void {
    if (n >= this.live || this.lower) { this.live = n; this.lower = false; } else this.lower = true;
  }

  private buckets(route: string, spec: RateLimitSpec): SharedBuckets {
    const g = compileRate(spec);
    const base = `${this.store.keys.rateLimitPrefix}${route}:${spec.requests}/${spec.per}/${spec.burst}`;
    const interval = String(g.interval);
    const tolerance = String(g.tolerance);
    return {
      lease: async (key, want) => {
        const r = await this.leaseScript([key === undefined ? base : `${base}:k:${key}`], [interval, tolerance, Math.min(want, spec.burst)]) as [number, string];
        return { granted: Number(r[0]), retryMs: Number(r[1]) };
      },
    };
  }

  private registerMetrics(registry: Registry): void {
    const fallback = this.fallback;
    this.decisions = new Counter({
      name: 'pilotfish_rate_limit_fallback_total', labelNames: ['route'], registers: [registry],
      help: 'Requests a fleet-wide rate limit decided with a local bucket (requests / N) because the fleet\'s Redis was unreachable.',
    });
    new Gauge({
      name: 'pilotfish_rate_limit_fallback_active', registers: [registry],
      help: 'Whether fleet-wide rate limits are decided by local buckets now (1: the fleet\'s Redis is unreachable) or shared (0).',
      collect() { this.set(fallback.active ? 1 : 0); },
    });
  }
}
