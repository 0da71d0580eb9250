/**
 * A route's rate limit (SPEC §5 "Rate limits"), the first layer under rescue: a refused request
 * costs a clock read and a subtraction, and goes nowhere near the rest of the stack — no mirror copy,
 * no retry, no breaker, pool or outlier accounting, no upstream. It is answered 429 with flag `RL`,
 * `retry-after` and the IETF RateLimit fields, through the one `rescue` like every answer of the
 * sidecar's own (so the gRPC edge can give it `RESOURCE_EXHAUSTED`).
 *
 * The bucket is the route's (`key` absent), the client's address's (`key: sourceIp`) or a header's
 * value's; requests without the header share one bucket, so leaving it out is no way around the
 * limit. A route without `rateLimit` has no such layer and pays nothing.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RateLimitPolicy } from '../config/index.js';
import type { Layer, ProxyRequest, ProxyResponse } from '../core/context.js';
import { rateLimited } from '../core/errors.js';
import type { ProxyEvents } from '../core/events.js';
import type { RateLimitDecision } from '../core/snapshot.js';
import { limitedHeaders, policyField, sfString, type RateLimiter } from '../ratelimit/index.js';
import { headerValue, normaliseIp } from '../routing/index.js';

/** The bucket key of a request: its header value, its address, or undefined (the route's one bucket). */
export type KeyOf = (headers: Readonly<IncomingHttpHeaders>, sourceIp: string | undefined) => string | undefined;

export function compileRateLimitKey(key: string | undefined): KeyOf {
  if (key === undefined) return () => undefined;
  if (key === 'sourceIp') return (_h, ip) => (ip ? normaliseIp(ip) : '');
  const name = key.toLowerCase();
  return (headers) => headerValue(headers, name) ?? '';
}

export function rateLimitLayer(route: string, policy: RateLimitPolicy, limiter: RateLimiter, events: ProxyEvents): Layer {
  const keyOf = compileRateLimitKey(policy.key);
  const name = sfString(route);
  const field = policyField(route, limiter.rate);
  const refuse = (waitMs: number): Promise<ProxyResponse> => {
    events.rateLimited(route);
    return Promise.reject(rateLimited(route, limitedHeaders(name, field, waitMs)));
  };
  return (next) => (req: ProxyRequest, ctx) => {
    const wait = limiter.take(keyOf(req.headers, req.peer.remoteAddress));
    if (wait === 0) return next(req, ctx);
    if (typeof wait === 'number') return refuse(wait);
    // A limiter that had to ask elsewhere (a fleet-wide bucket): the same decision, later.
    return wait.then((w) => (w === 0 ? next(req, ctx) : refuse(w)));
  };
}

/** What explain shows: the limit, the request's bucket key and how many requests it could make now. */
export function describeRateLimit(policy: RateLimitPolicy, limiter: RateLimiter,
  headers: Readonly<IncomingHttpHeaders>, sourceIp: string | undefined): RateLimitDecision {
  const key = compileRateLimitKey(policy.key)(headers, sourceIp);
  return {
    requests: policy.requests, per: policy.per, burst: policy.burst,
    bucket: policy.key === undefined ? 'route' : policy.key === 'sourceIp' ? 'source address' : `header ${policy.key.toLowerCase()}`,
    key: key ?? null, remaining: limiter.remaining(key), ...limiter.stats(),
  };
}

