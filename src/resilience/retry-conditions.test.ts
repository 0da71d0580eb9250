import { describe, expect, it } from 'vitest';
import type { RoutePolicy } from '../config/index.js';
import type { Outcome } from './outcome.js';
import { isIdempotent, retryVerdict, shouldRetry, type RetryConditions, type RetryOn } from './retry-conditions.js';

const fromPolicy: RetryConditions = {} as NonNullable<RoutePolicy['retries']>;
void fromPolicy;

const OUTCOMES: readonly Outcome[] = [200, 404, 409, 429, 500, 501, 502, 503, 504, 'connect-failure', 'reset', 'timeout'];

function retried(on: RetryOn[], method = 'GET', nonIdempotent = false): Outcome[] {
  return OUTCOMES.filter((o) => shouldRetry(o, { retryOn: on, nonIdempotent }, method));
}

describe('shouldRetry', () => {
  it.each([
    [['5xx'], [500, 501, 502, 503, 504, 'connect-failure', 'reset', 'timeout']],
    [['gateway-error'], [502, 503, 504, 'connect-failure', 'reset', 'timeout']],
    [['reset'], ['reset']],
    [['connect-failure'], ['connect-failure']],
    [['retriable-4xx'], [409]],
    [[429, 501], [429, 501]],
    [['reset', 'connect-failure', 503], [503, 'connect-failure', 'reset']],
    [[], []],
  ] as [RetryOn[], Outcome[]][])('retryOn %j retries %j', (on, expected) => {
    expect(retried(on)).toEqual(expected);
  });

  it('never retries a success or a 4xx other than 409 under the named conditions', () => {
    const all = retried(['5xx', 'gateway-error', 'reset', 'connect-failure', 'retriable-4xx']);
    expect(all.filter((o) => typeof o === 'number' && o < 500)).toEqual([409]);
  });

  it.each(['POST', 'PATCH', 'post', 'CONNECT', 'PURGE'])('retries %s only when it provably never left', (method) => {
    expect(retried(['5xx', 'retriable-4xx'], method)).toEqual(['connect-failure']);
    expect(retried(['reset'], method)).toEqual([]);
  });

  it('retries non-idempotent methods on any retriable outcome with nonIdempotent', () => {
    expect(retried(['5xx'], 'POST', true)).toEqual(retried(['5xx'], 'GET'));
  });

  it.each([['GET', true], ['HEAD', true], ['PUT', true], ['DELETE', true], ['OPTIONS', true], ['TRACE', true], ['POST', false], ['PATCH', false]])(
    'isIdempotent(%s) is %s', (method, expected) => { expect(isIdempotent(method)).toBe(expected); },
  );

  it('retryVerdict tells a failure retryOn does not cover from one the method forbids', () => {
    const c = { retryOn: ['5xx'] as RetryOn[] };
    expect(retryVerdict(404, c, 'POST')).toBe('no');
    expect(retryVerdict(503, c, 'POST')).toBe('non-idempotent');
    expect(retryVerdict('reset', c, 'PATCH')).toBe('non-idempotent');
    expect(retryVerdict('connect-failure', c, 'POST')).toBe('retry');
    expect(retryVerdict(503, c, 'GET')).toBe('retry');
    expect(retryVerdict(503, { ...c, nonIdempotent: true }, 'POST')).toBe('retry');
  });
});
