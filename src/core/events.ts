/**
 * What the data plane reports as it works. Routing, resilience and the pipeline emit these; the
 * telemetry module is the one implementation that turns them into metrics (none of the emitters
 * imports prom-client). `NO_EVENTS` is the do-nothing default for tests and tools.
 */
/** What a try came to: the upstream's status, or why there was none. */
export type AttemptOutcome = number | 'connect-failure' | 'reset' | 'timeout' | `grpc-${string}`;

/**
 * Why a retriable failure was not retried although tries were left (resilience's `SkipReason`):
 * `budget` spent, `deadline` too near for the backoff, `body-too-large` (streamed, over 1 MiB),
 * `non-idempotent` method after a failure where the request may have reached the upstream.
 */
export type RetrySkipReason = 'budget' | 'deadline' | 'body-too-large' | 'non-idempotent';

/** A data-plane listener. */
export type ListenerName = 'outbound' | 'inbound';

/**
 * Why the edge answered a request itself before routing it: its head was over the size or field
 * limits (431), it was not complete within `headersTimeout` (408), or it could not be parsed (400).
 */
export type EdgeRejectReason = 'header-too-large' | 'headers-timeout' | 'malformed';

/** The overload monitor turned shedding on or off. */
export interface OverloadState {
  readonly shedding: boolean;
  /** Memory in use, percent of the limit, and both in bytes. */
  readonly percent: number;
  readonly used: number;
  readonly limit: number;
}

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
  /** A downstream connection was closed on arrival: the listener had `maxConnections` open. */
  connectionOverflow(listener: ListenerName): void;
  /** The edge answered a request itself (431, 408, 400) without routing it. */
  edgeRejected(listener: ListenerName, reason: EdgeRejectReason): void;
  /** A new request was shed (503 `OM`) under memory pressure. */
  overloadShed(listener: ListenerName): void;
  /** Shedding turned on or off (once per episode). */
  overload(state: OverloadState): void;
  /** Inbound authorization refused a request (403 `AD`): `policy` is the deciding rule (SPEC §12). */
  authzDenied(policy: string): void;
}

const noop = (): void => {};
export const NO_EVENTS: ProxyEvents = Object.freeze({
  attempt: noop, retry: noop, retrySkipped: noop, faultInjected: noop,
  breakerState: noop, ejection: noop, endpointHealthy: noop, mirror: noop, rateLimited: noop,
  connectionOverflow: noop, edgeRejected: noop, overloadShed: noop, overload: noop, authzDenied: noop,
});
