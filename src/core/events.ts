/**
 * What the data plane reports as it works. Routing, resilience and the pipeline emit these; the
 * telemetry module is the one implementation that turns them into metrics (none of the emitters
 * imports prom-client). `NO_EVENTS` is the do-nothing default for tests and tools.
 */
/** What a try came to: the upstream's status, or why there was none. */
export type AttemptOutcome = number | 'connect-failure' | 'reset' | 'timeout';

/**
 * Why a retriable failure was not retried although tries were left (resilience's `SkipReason`):
 * `budget` spent, `deadline` too near for the backoff, `body-too-large` (streamed, over 1 MiB),
 * `non-idempotent` method after a failure where the request may have reached the upstream.
 */
export type RetrySkipReason = 'budget' | 'deadline' | 'body-too-large' | 'non-idempotent';

export interface ProxyEvents {
  /** One upstream try finished (tries refused by an open breaker or a full pool are not tries). */
  attempt(upstream: string, subset: string, outcome: AttemptOutcome): void;
  retry(route: string, upstream: string): void;
  /** A retriable failure was not retried although tries were left, and why. */
  retrySkipped(route: string, upstream: string, reason: RetrySkipReason): void;
  faultInjected(route: string, type: 'delay' | 'abort'): void;
  breakerState(upstream: string, subset: string, code: 0 | 1 | 2): void;
  ejection(upstream: string, endpoint: string): void;
  endpointHealthy(upstream: string, endpoint: string, healthy: boolean): void;
  /**
   * A mirrored copy: compared (match, status_mismatch, body_mismatch), sent without compare, failed
   * (error), or not sent (dropped: body over 1 MiB, too many shadows in flight, no endpoint).
   */
  mirror(route: string, outcome: 'match' | 'status_mismatch' | 'body_mismatch' | 'error' | 'sent' | 'dropped'): void;
  /** The route's rate limit refused a request (429 `RL`): it went nowhere near an upstream. */
  rateLimited(route: string): void;
}

const noop = (): void => {};
export const NO_EVENTS: ProxyEvents = Object.freeze({
  attempt: noop, retry: noop, retrySkipped: noop, faultInjected: noop,
  breakerState: noop, ejection: noop, endpointHealthy: noop, mirror: noop, rateLimited: noop,
});
