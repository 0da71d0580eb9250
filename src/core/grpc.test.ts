import { describe, expect, it } from 'vitest';
import { policySchema } from '../config/schema.js';
import { isGatewayError, isUpstreamFailure } from '../resilience/outcome.js';
import { shouldRetry, type RetryOn } from '../resilience/retry-conditions.js';
import {
  encodeGrpcMessage, grpcAnswer, grpcFailure, GrpcStatus, grpcStatusForFlag, grpcStatusForHttp, httpStatusForGrpc, isGrpc, parseGrpcTimeout,
} from './grpc.js';

describe('isGrpc', () => {
  it.each([
    ['application/grpc', true], ['application/grpc+proto', true], ['application/grpc;charset=utf-8', true],
    ['application/grpc-web', false], ['application/grpc-web+proto', false], ['application/json', false], [undefined, false],
  ] as const)('%s → %s', (ct, expected) => expect(isGrpc(ct)).toBe(expected));
});

describe('parseGrpcTimeout', () => {
  it.each([
    ['200m', 200], ['1S', 1000], ['2M', 120_000], ['1H', 3_600_000], ['1500u', 1.5], ['3000000n', 3], ['0m', 0],
  ] as const)('%s → %d ms', (v, ms) => expect(parseGrpcTimeout(v)).toBe(ms));

  it.each(['', 'm', '12', '1x', '-1m', '1.5S', '123456789m'])('refuses %j', (v) => expect(parseGrpcTimeout(v)).toBeUndefined());
});

describe("the sidecar's gRPC answers (SPEC §11 table)", () => {
  it.each([
    ['UH', 503, GrpcStatus.UNAVAILABLE], ['UF', 503, GrpcStatus.UNAVAILABLE], ['UC', 503, GrpcStatus.UNAVAILABLE],
    ['UO', 503, GrpcStatus.UNAVAILABLE], ['CO', 503, GrpcStatus.UNAVAILABLE], ['UT', 504, GrpcStatus.DEADLINE_EXCEEDED],
    ['NR', 404, GrpcStatus.UNIMPLEMENTED], ['NR', 400, GrpcStatus.INTERNAL], ['RL', 429, GrpcStatus.RESOURCE_EXHAUSTED],
  ] as const)('%s (HTTP %d) → %d', (flag, status, code) => expect(grpcStatusForFlag(flag, status)).toBe(code));

  it('is trailers-only: HTTP 200, an empty body, status and percent-encoded message in the headers', () => {
    const a = grpcAnswer(14, 'no healthy endpoint: 100% down ✗');
    expect(a.status).toBe(200);
    expect(a.body.length).toBe(0);
    expect(a.headers).toMatchObject({ 'content-type': 'application/grpc', 'grpc-status': '14' });
    expect(decodeURIComponent(a.headers['grpc-message'] as string)).toBe('no healthy endpoint: 100% down ✗');
    expect(encodeGrpcMessage('plain text')).toBe('plain text');
  });

  it('maps HTTP and gRPC statuses both ways for the common cases', () => {
    for (const [http, grpc] of [[503, 14], [504, 14], [404, 12], [403, 7], [401, 16], [429, 14]] as const) expect(grpcStatusForHttp(http)).toBe(grpc);
    for (const [grpc, http] of [[14, 503], [4, 504], [12, 501], [7, 403], [8, 429], [13, 500], [0, 200]] as const) expect(httpStatusForGrpc(grpc)).toBe(http);
  });
});

describe('gRPC statuses as try outcomes', () => {
  it('the five retryOn names are failures; others are not', () => {
    expect([1, 4, 8, 13, 14].map(grpcFailure)).toEqual(['grpc-cancelled', 'grpc-deadline-exceeded', 'grpc-resource-exhausted', 'grpc-internal', 'grpc-unavailable']);
    expect([0, 2, 3, 5, 12, undefined].map(grpcFailure)).toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
    expect(isUpstreamFailure('grpc-internal')).toBe(true);
    expect(isGatewayError('grpc-unavailable')).toBe(true);
    expect(isGatewayError('grpc-deadline-exceeded')).toBe(true);
    expect(isGatewayError('grpc-internal')).toBe(false);
  });

  it('retryOn retries a gRPC status by name only, POST included; 5xx and gateway-error stay HTTP conditions', () => {
    const retried = (on: RetryOn[], outcome: Parameters<typeof shouldRetry>[0]): boolean => shouldRetry(outcome, { retryOn: on }, 'POST');
    expect(retried(['unavailable'], 'grpc-unavailable')).toBe(true);
    expect(retried(['unavailable'], 'grpc-internal')).toBe(false);
    expect(retried(['5xx', 'gateway-error'], 'grpc-unavailable')).toBe(false);
    expect(retried(['internal', 'deadline-exceeded'], 'grpc-deadline-exceeded')).toBe(true);
    expect(retried(['unavailable'], 503)).toBe(false);
  });
});

describe('policy', () => {
  const base = { version: 1, upstreams: { u: { endpoints: [{ address: 'u:1' }] } } };
  const route = (extra: object) => ({ ...base, routes: [{ name: 'r', to: [{ upstream: 'u' }], ...extra }] });

  it('takes protocol (default downstream), healthCheck.grpc, fault.abort.grpcStatus and gRPC retryOn names', () => {
    const p = policySchema.parse({
      version: 1,
      upstreams: { u: { endpoints: [{ address: 'u:1' }], protocol: 'http2', healthCheck: { grpc: {} } }, d: { endpoints: [{ address: 'd:1' }] } },
      routes: [{ name: 'r', to: [{ upstream: 'u' }], fault: { abort: { grpcStatus: 14, percent: 5 } }, retries: { attempts: 1, retryOn: ['unavailable', 'resource-exhausted'] } }],
    });
    expect(p.upstreams.u!.protocol).toBe('http2');
    expect(p.upstreams.d!.protocol).toBe('downstream');
    expect(p.upstreams.u!.healthCheck?.grpc).toEqual({ service: '' });
    expect(p.routes[0]!.fault?.abort).toEqual({ status: 503, grpcStatus: 14, percent: 5 });
  });

  it.each([
    ['an abort with both status and grpcStatus', route({ fault: { abort: { status: 503, grpcStatus: 14 } } })],
    ['an abort with neither', route({ fault: { abort: { percent: 5 } } })],
    ['a grpcStatus past 16', route({ fault: { abort: { grpcStatus: 17 } } })],
    ['an unknown protocol', { version: 1, upstreams: { u: { endpoints: [{ address: 'u:1' }], protocol: 'h3' } } }],
    ['a health check with both path and grpc', { version: 1, upstreams: { u: { endpoints: [{ address: 'u:1' }], healthCheck: { path: '/h', grpc: {} } } } }],
    ['an unknown gRPC name in retryOn', route({ retries: { attempts: 1, retryOn: ['not-found'] } })],
  ])('refuses %s', (_what, doc) => expect(policySchema.safeParse(doc).success).toBe(false));
});
