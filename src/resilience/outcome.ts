/**
 * What one try against an upstream came to, in the vocabulary every machine here shares: the
 * response status, or why no response arrived. The proxy layer turns its `ProxyError` flags into
 * these with `outcomeFromFlag`; everything else (client left, breaker open, overflow) is not the
 * upstream's doing and has no outcome.
 */
import type { ResponseFlag } from '../core/errors.js';
import type { GrpcFailure } from '../core/grpc.js';

/** Why a try produced no response. `connect-failure` means the request provably never left. */
export type ErrorKind = 'connect-failure' | 'reset' | 'timeout';

/**
 * An HTTP status from the upstream, an `ErrorKind`, or a failed gRPC status read from a
 * trailers-only answer (`grpc-unavailable`, …: SPEC §11 — those count as upstream failures).
 */
export type Outcome = number | ErrorKind | GrpcFailure;

/** True for the no-answer kinds (connect failure, reset, timeout). */
export function isErrorKind(outcome: Outcome): outcome is ErrorKind {
  return outcome === 'connect-failure' || outcome === 'reset' || outcome === 'timeout';
}

export function outcomeFromFlag(flag: ResponseFlag): ErrorKind | undefined {
  switch (flag) {
    case 'UF': return 'connect-failure';
    case 'UC': return 'reset';
    case 'UT': return 'timeout';
    default: return undefined;
  }
}

/**
 * Failures as the circuit breaker counts them (SPEC §5): 5xx, connect errors, resets and timeouts,
 * and the failed gRPC statuses (SPEC §11). 4xx and everything below count as successes: the
 * upstream answered, the client was wrong.
 */
export function isUpstreamFailure(outcome: Outcome): boolean {
  return typeof outcome === 'string' || outcome >= 500;
}

/**
 * Gateway errors (Envoy's `consecutive_gateway_failure`): 502, 503, 504, and the local-origin
 * errors that Envoy maps onto them (connect failure and reset as 503, timeout as 504), and the gRPC
 * statuses that stand for them (UNAVAILABLE as 503, DEADLINE_EXCEEDED as 504).
 */
export function isGatewayError(outcome: Outcome): boolean {
  if (typeof outcome === 'string') return isErrorKind(outcome) || outcome === 'grpc-unavailable' || outcome === 'grpc-deadline-exceeded';
  return outcome === 502 || outcome === 503 || outcome === 504;
}
