/**
 * Operational logs for the state changes an operator wants to read in order (SPEC §6, issue 6):
 * breaker transitions, ejections and health changes go to the JSON log on stderr as well as to
 * the events' own consumer (metrics). Per-request events pass straight through.
 */
import type { Logger } from 'pino';
import type { ProxyEvents } from './events.js';

const STATE = ['closed', 'half-open', 'open'] as const;

export function withStateLogs(inner: ProxyEvents, log: Logger): ProxyEvents {
  return {
    attempt: (u, s, o) => inner.attempt(u, s, o),
    retry: (r, u) => inner.retry(r, u),
    retrySkipped: (r, u, why) => inner.retrySkipped(r, u, why),
    faultInjected: (r, t) => inner.faultInjected(r, t),
    mirror: (r, o) => inner.mirror(r, o),
    rateLimited: (r) => inner.rateLimited(r),
    connectionOverflow: (l) => inner.connectionOverflow(l),
    edgeRejected: (l, why) => inner.edgeRejected(l, why),
    overloadShed: (l) => inner.overloadShed(l),
    overload(state) {
      inner.overload(state);
      const fields = { percent: Math.round(state.percent * 10) / 10, usedBytes: state.used, limitBytes: state.limit };
      // Once per episode, not per request: the monitor emits only on a change.
      if (state.shedding) log.warn(fields, 'overload: memory in use past overload.shedAbove; new requests are shed with 503 OM');
      else log.info(fields, 'overload over: memory in use under overload.resumeBelow; requests admitted again');
    },
    authzDenied: (p) => inner.authzDenied(p),
    breakerState(upstream, subset, code) {
      inner.breakerState(upstream, subset, code);
      const msg = `circuit breaker ${STATE[code]}`;
      if (code === 0) log.info({ upstream, subset, state: STATE[code] }, msg); else log.warn({ upstream, subset, state: STATE[code] }, msg);
    },
    ejection(upstream, endpoint) {
      inner.ejection(upstream, endpoint);
      log.warn({ upstream, endpoint }, 'outlier ejected');
    },
    endpointHealthy(upstream, endpoint, healthy) {
      inner.endpointHealthy(upstream, endpoint, healthy);
      if (!healthy) log.warn({ upstream, endpoint, healthy }, 'endpoint unhealthy');
      else log.debug({ upstream, endpoint, healthy }, 'endpoint healthy');
    },
  };
}
