/**
 * Which outcomes a route retries (SPEC §5, Envoy's `retry_on`), and the idempotency rule.
 *
 * | retryOn          | retries                                                                  |
 * |------------------|--------------------------------------------------------------------------|
 * | `5xx`            | any 5xx, and no answer at all: connect failure, reset, timeout (Envoy)   |
 * | `gateway-error`  | 502, 503, 504, connect failure, reset, timeout                           |
 * | `reset`          | the connection was reset/closed before a response                        |
 * | `connect-failure`| the connection could not be made (refused, unreachable, connect timeout) |
 * | `retriable-4xx`  | 409 Conflict                                                             |
 * | a number         | that status                                                              |
 * | `unavailable`, `deadline-exceeded`, `internal`, `resource-exhausted`, `cancelled` | that gRPC status in a trailers-only answer (SPEC §11) |
 *
 * A gRPC status named in `retryOn` is retried whatever the method (every gRPC call is a POST): a
 * route that names one has said those calls are safe to repeat, as gRPC's own retry policy and
 * Envoy's gRPC `retry_on` conditions assume.
 * Non-idempotent methods (POST, PATCH, and any method RFC 9110 does not define as idempotent) are
 * retried only after a connect failure — the one outcome where the request provably never reached
 * the upstream — unless `nonIdempotent` is set.
 */
import type { GrpcRetryName } from '../core/grpc.js';
import { isErrorKind, isGatewayError, type Outcome } from './outcome.js';

export type RetryOn = '5xx' | 'gateway-error' | 'reset' | 'connect-failure' | 'retriable-4xx' | GrpcRetryName | number;

export interface RetryConditions {
  /** Outcomes worth another try. Policy default `[5xx, reset, connect-failure]`. */
  retryOn: readonly RetryOn[];
  /** Retry non-idempotent methods on any retriable outcome. Policy default false. */
  nonIdempotent?: boolean | undefined;
}

// RFC 9110 §9.2.2. Unknown (extension) methods are not idempotent unless we know better.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method.toUpperCase());
}

/** Whether `outcome` is covered by one `retryOn` entry. */
export function retriableBy(outcome: Outcome, on: RetryOn): boolean {
  if (typeof on === 'number') return outcome === on;
  switch (on) {
    // Envoy's `5xx` and `gateway-error` are HTTP conditions: a gRPC status is retried only by name.
    case '5xx': return typeof outcome === 'string' ? isErrorKind(outcome) : outcome >= 500;
    case 'gateway-error': return (typeof outcome !== 'string' || isErrorKind(outcome)) && isGatewayError(outcome);
    case 'reset': return outcome === 'reset';
    case 'connect-failure': return outcome === 'connect-failure';
    case 'retriable-4xx': return outcome === 409;
    default: return outcome === `grpc-${on}`;
  }
}

/**
 * What `conditions` say about a try of `method` that came to `outcome`: `retry`, `no` (retryOn does
 * not cover it), or `non-idempotent` (covered, but the request may have reached the upstream).
 */
export function retryVerdict(outcome: Outcome, conditions: RetryConditions, method: string): 'retry' | 'no' | 'non-idempotent' {
  let covered = false;
  for (const on of conditions.retryOn) if (retriableBy(outcome, on)) { covered = true; break; } // no closure per answer
  if (!covered) return 'no';
  return outcome === 'connect-failure' || (typeof outcome === 'string' && outcome.startsWith('grpc-')) || conditions.nonIdempotent === true || isIdempotent(method) ? 'retry' : 'non-idempotent';
}

/** Whether a try of `method` that came to `outcome` should be retried under `conditions`. */
export function shouldRetry(outcome: Outcome, conditions: RetryConditions, method: string): boolean {
  return retryVerdict(outcome, conditions, method) === 'retry';
}
