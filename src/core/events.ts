/**
 * What the data plane reports as it works. Routing, resilience and the pipeline emit these; the
 * telemetry module is the one implementation that turns them into metrics (none of the emitters
 * imports prom-client). `NO_EVENTS` is the do-nothing default for tests and tools.
 */
export type AttemptOutcome = 'success' | '4xx' | '5xx' | 'connect_failure' | 'reset' | 'timeout' | 'fault' | 'circuit_open' | 'overflow';

export interface ProxyEvents {
  /** One upstream try finished (or was refused before reaching it). */
  attempt(upstream: string, subset: string, outcome: AttemptOutcome): void;
  retry(route: string, upstream: string): void;
  /** A retriable failure was not retried because the request body was streamed (over 1 MiB). */
  retrySkippedStreamedBody(route: string, upstream: string): void;
  faultInjected(route: string, type: 'delay' | 'abort'): void;
  breakerState(upstream: string, subset: string, code: 0 | 1 | 2): void;
  ejection(upstream: string, endpoint: string): void;
  endpointHealthy(upstream: string, endpoint: string, healthy: boolean): void;
  mirror(route: string, outcome: 'match' | 'status_mismatch' | 'body_mismatch' | 'error' | 'sent' | 'dropped'): void;
}

const noop = (): void => {};
export const NO_EVENTS: ProxyEvents = Object.freeze({
  attempt: noop, retry: noop, retrySkippedStreamedBody: noop, faultInjected: noop,
  breakerState: noop, ejection: noop, endpointHealthy: noop, mirror: noop,
});
