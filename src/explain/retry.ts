/**
 * The retry section of `explain`: the route's retry policy, its budget (live on admin `/explain`, a
 * fresh one offline), and which retries of this very request would be skipped before any try is
 * made, with the reason `pilotfish_retries_skipped_total` would count.
 */
import { GRPC_RETRY_NAMES, type GrpcRetryName } from '../core/grpc.js';
import type { RoutePolicy } from '../config/index.js';
import type { RetrySkipReason } from '../core/events.js';
import { RETRY_BUFFER_LIMIT } from '../pipeline/body.js';
import { isIdempotent, type RetryBudgetView } from '../resilience/index.js';

export interface RetryExplanation {
  readonly attempts: number;
  readonly retryOn: NonNullable<RoutePolicy['retries']>['retryOn'];
  readonly budget: RetryBudgetView | null;
  /** Retries this request would not get, and why (the outcome-independent reasons). */
  readonly skips: ReadonlyArray<{ readonly reason: RetrySkipReason; readonly detail: string }>;
}

export function explainRetry(
  retries: RoutePolicy['retries'], budget: RetryBudgetView | undefined, method: string, headers: Readonly<Record<string, string>>,
): RetryExplanation | null {
  if (!retries) return null;
  const skips: Array<RetryExplanation['skips'][number]> = [];
  if (retries.attempts > 0 && !retries.nonIdempotent && !isIdempotent(method)) {
    // gRPC statuses named in retryOn are retried whatever the method (SPEC §11, docs/http2.md).
    const grpc = retries.retryOn.filter((on): on is GrpcRetryName => typeof on === 'string' && on in GRPC_RETRY_NAMES);
    const also = grpc.length > 0 ? `; the gRPC statuses ${grpc.join(', ')} are retried whatever the method` : '';
    skips.push({
      reason: 'non-idempotent',
      detail: (retries.retryOn.includes('connect-failure') || retries.retryOn.includes('5xx') || retries.retryOn.includes('gateway-error')
        ? `${method} is not idempotent: retried only after a connect failure (the request never left); retries.nonIdempotent: true retries it on every retryOn outcome`
        : `${method} is not idempotent and retryOn covers no connect failure: never retried; retries.nonIdempotent: true retries it`) + also,
    });
  }
  const length = Number(headers['content-length']);
  if (retries.attempts > 0 && Number.isFinite(length) && length > RETRY_BUFFER_LIMIT) {
    skips.push({ reason: 'body-too-large', detail: `a body of ${length} bytes is over the ${RETRY_BUFFER_LIMIT}-byte replay buffer: it streams once and is not retried` });
  }
  if (retries.attempts > 0 && budget && budget.available < 1) {
    skips.push({ reason: 'budget', detail: `the retry budget is spent: no retry available now (${budget.retries} retries for ${budget.requests} requests in the last ${budget.windowMs / 1000}s)` });
  }
  return { attempts: retries.attempts, retryOn: retries.retryOn, budget: budget ?? null, skips };
}

export function renderRetry(r: RetryExplanation): string[] {
  const out = ['', 'retries:', `  up to ${r.attempts} after the first try, on ${r.retryOn.join(', ')}`];
  const b = r.budget;
  if (b) {
    out.push(`  budget: ${b.percent}% of requests + a reserve of ${b.reserve} (${b.minPerSecond}/s over ${b.windowMs / 1000}s); `
      + `now ${b.available} available (${b.requests} requests, ${b.retries} retries in the window)`);
  }
  if (r.skips.length === 0) out.push('  this request: retriable failures are retried while attempts, budget and deadline allow');
  for (const s of r.skips) out.push(`  this request, skipped retries (${s.reason}): ${s.detail}`);
  return out;
}
