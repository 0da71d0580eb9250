import { describe, expect, it } from 'vitest';
import { tracingConfigFromEnv, type Env } from './tracing-config.js';

const ENDPOINT = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

describe('tracingConfigFromEnv', () => {
  it.each<[string, Env, RegExp]>([
    ['nothing set', {}, /no OTLP endpoint/],
    ['blank endpoint', { OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }, /no OTLP endpoint/],
    ['exporter none', { ...ENDPOINT, OTEL_TRACES_EXPORTER: 'none' }, /none/],
    ['exporter console only', { ...ENDPOINT, OTEL_TRACES_EXPORTER: 'console' }, /only otlp/],
    ['SDK disabled', { ...ENDPOINT, OTEL_SDK_DISABLED: 'TRUE' }, /OTEL_SDK_DISABLED/],
    ['grpc', { ...ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /not supported/],
    ['bad URL', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' }, /no OTLP endpoint/],
  ])('is off: %s', (_name, env, reason) => {
    const r = tracingConfigFromEnv(env);
    expect(r.config).toBeUndefined();
    expect(r.reason).toMatch(reason);
  });

  it.each<[string, Env, string]>([
    ['base endpoint gets /v1/traces', ENDPOINT, 'http://collector:4318/v1/traces'],
    ['trailing slash', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }, 'http://collector:4318/v1/traces'],
    ['base path kept', { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example.com/otlp' }, 'https://otel.example.com/otlp/v1/traces'],
    ['traces endpoint as is, and first', { ...ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:4318/custom' }, 'http://t:4318/custom'],
  ])('resolves the URL: %s', (_name, env, url) => {
    expect(tracingConfigFromEnv(env).config?.url).toBe(url);
  });

  it.each<[Env, string]>([
    [ENDPOINT, 'http/protobuf'],
    [{ ...ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, 'http/json'],
    [{ ...ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }, 'http/json'],
  ])('picks the protocol %#', (env, protocol) => {
    expect(tracingConfigFromEnv(env).config?.protocol).toBe(protocol);
  });

  it.each<[Env, object, number]>([
    [{}, { root: 'always_on', parentBased: true, ratio: 1 }, 0],
    [{ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' }, { root: 'traceidratio', parentBased: false, ratio: 0.01 }, 0],
    [{ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }, { root: 'traceidratio', parentBased: true, ratio: 0.25 }, 0],
    [{ OTEL_TRACES_SAMPLER: 'always_off' }, { root: 'always_off', parentBased: false }, 0],
    [{ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }, { root: 'traceidratio', ratio: 1 }, 1],
    [{ OTEL_TRACES_SAMPLER: 'sometimes' }, { root: 'always_on', parentBased: true }, 1],
  ])('reads the sampler %#', (env, sampler, warnings) => {
    const r = tracingConfigFromEnv({ ...ENDPOINT, ...env });
    expect(r.config?.sampler).toMatchObject(sampler);
    expect(r.warnings).toHaveLength(warnings);
  });

  it('reads OTEL_BSP_* and warns about nonsense', () => {
    const r = tracingConfigFromEnv({
      ...ENDPOINT, OTEL_BSP_SCHEDULE_DELAY: '200', OTEL_BSP_MAX_QUEUE_SIZE: '4096', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '-1', OTEL_BSP_EXPORT_TIMEOUT: 'soon',
    });
    expect(r.config?.batch).toEqual({ scheduledDelayMillis: 200, maxQueueSize: 4096 });
    expect(r.warnings).toHaveLength(2);
  });

  it('sends spans from a thread of their own unless PILOTFISH_TRACE_EXPORT_THREAD=main', () => {
    expect(tracingConfigFromEnv(ENDPOINT).config?.exportThread).toBe('worker');
    expect(tracingConfigFromEnv({ ...ENDPOINT, PILOTFISH_TRACE_EXPORT_THREAD: 'main' }).config?.exportThread).toBe('main');
    const odd = tracingConfigFromEnv({ ...ENDPOINT, PILOTFISH_TRACE_EXPORT_THREAD: 'both' });
    expect(odd.config?.exportThread).toBe('worker');
    expect(odd.warnings).toEqual(['PILOTFISH_TRACE_EXPORT_THREAD="both" is neither worker nor main; using worker']);
  });

  it('names the service from OTEL_SERVICE_NAME, then OTEL_RESOURCE_ATTRIBUTES, then pilotfish', () => {
    expect(tracingConfigFromEnv(ENDPOINT).config?.serviceName).toBe('pilotfish');
    const attrs = { ...ENDPOINT, OTEL_RESOURCE_ATTRIBUTES: 'service.name=reviews,k8s.pod.name=reviews-1%2Fa, bad' };
    const r = tracingConfigFromEnv(attrs);
    expect(r.config?.serviceName).toBe('reviews');
    expect(r.config?.resourceAttributes).toEqual({ 'service.name': 'reviews', 'k8s.pod.name': 'reviews-1/a' });
    expect(r.warnings).toHaveLength(1);
    expect(tracingConfigFromEnv({ ...attrs, OTEL_SERVICE_NAME: 'sidecar' }).config?.serviceName).toBe('sidecar');
  });
});
