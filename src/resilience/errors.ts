/**
 * Errors the resilience machines raise when they decide on behalf of the upstream. They carry the
 * same stable `code`, response `flag` and `status` as `ProxyError` (core/errors.ts) so the proxy
 * layer maps them in one line; they are separate classes only because this folder stays pure.
 */
import type { ResponseFlag } from '../core/errors.js';

export class ResilienceError extends Error {
  readonly code: string;
  readonly flag: ResponseFlag;
  readonly status: number;

  constructor(code: string, flag: ResponseFlag, status: number, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.flag = flag;
    this.status = status;
  }
}

/** The breaker is open (or half-open with its one trial already out): the upstream was not called. */
export class CircuitOpenError extends ResilienceError {
  constructor(name: string) {
    super('circuit_open', 'CO', 503, `circuit breaker ${name} is open`);
  }
}

/** Both the connection limit and the pending queue of an upstream are full. */
export class PoolOverflowError extends ResilienceError {
  constructor(name: string) {
    super('upstream_overflow', 'UO', 503, `upstream ${name} is at its connection and pending-request limits`);
  }
}
