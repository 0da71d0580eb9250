/**
 * What the load generator records per request, and the summaries every report shares. Percentiles
 * are exact (nearest rank over the sorted latencies): a chaos experiment sends thousands of requests,
 * not millions, so there is no need to trade accuracy for memory as an HDR histogram does.
 */
import type { SendResult } from './request-sender.js';

/** One request: what came back (`SendResult`: status, error, flags, instance, bytes) and when. */
export interface RequestSample extends SendResult {
  /** Request number within the load, from 0. */
  readonly seq: number;
  /** When the request was meant to be sent, ms after the load began. */
  readonly scheduledAt: number;
  /** Which sidecar it went through (its index in a fleet environment; 0 otherwise). */
  readonly sidecar?: number;
  /** When it was actually sent, ms after the load began (≥ `scheduledAt` when the load ran behind). */
  readonly sentAt?: number;
  /**
   * ms until the answer was complete — counted from the intended send time under a constant rate, so
   * a stalled sidecar shows up as latency instead of as requests quietly not sent (coordinated omission).
   */
  readonly latency: number;
}

export const isSuccess = (s: Pick<RequestSample, 'status'>): boolean => s.status >= 200 && s.status < 400;

/** Nearest-rank percentile of ascending `sorted`; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function sortedLatencies(samples: readonly RequestSample[]): Float64Array {
  return Float64Array.from(samples, (s) => s.latency).sort();
}

export interface LoadSummary {
  readonly requests: number;
  readonly succeeded: number;
  readonly errors: number;
  /** Percent. */
  readonly successRate: number;
  readonly latency: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number; readonly mean: number };
  readonly status: Readonly<Record<string, number>>;
  readonly flags: Readonly<Record<string, number>>;
  readonly instances: Readonly<Record<string, number>>;
}

export function summarize(samples: readonly RequestSample[]): LoadSummary {
  const sorted = sortedLatencies(samples);
  const succeeded = samples.filter(isSuccess).length;
  const count = (key: (s: RequestSample) => readonly string[]): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const s of samples) for (const k of key(s)) out[k] = (out[k] ?? 0) + 1;
    return out;
  };
  return {
    requests: samples.length,
    succeeded,
    errors: samples.length - succeeded,
    successRate: samples.length === 0 ? NaN : (succeeded / samples.length) * 100,
    latency: {
      p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99),
      max: sorted.length ? sorted[sorted.length - 1]! : NaN,
      mean: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : NaN,
    },
    status: count((s) => [s.status === 0 ? `error:${s.error ?? 'unknown'}` : String(s.status)]),
    flags: count((s) => s.flags),
    instances: count((s) => (s.instance ? [s.instance] : [])),
  };
}

export interface TimelineBucket {
  /** Bucket start, ms after the load began. */
  readonly at: number;
  readonly requests: number;
  readonly errors: number;
  readonly p99: number;
}

/** Requests per bucket of scheduled time: where in the experiment things went wrong. */
export function timeline(samples: readonly RequestSample[], bucketMs = 250): TimelineBucket[] {
  const buckets = new Map<number, RequestSample[]>();
  for (const s of samples) {
    const at = Math.floor(s.scheduledAt / bucketMs) * bucketMs;
    let list = buckets.get(at);
    if (!list) buckets.set(at, (list = []));
    list.push(s);
  }
  return [...buckets].sort(([a], [b]) => a - b).map(([at, list]) => ({
    at, requests: list.length, errors: list.filter((s) => !isSuccess(s)).length, p99: percentile(sortedLatencies(list), 99),
  }));
}
