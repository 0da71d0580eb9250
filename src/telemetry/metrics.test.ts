import { describe, expect, it } from 'vitest';
import { DURATION_BUCKETS, Metrics, type RequestLabels } from './metrics.js';

const req = (over: Partial<RequestLabels> = {}): RequestLabels => ({
  direction: 'outbound', route: 'reviews', upstream: 'reviews', subset: 'v1', flags: [], ...over,
});

async function values(m: Metrics, name: string) {
  const metric = m.registry.getSingleMetric(name);
  if (!metric) throw new Error(`${name} not registered`);
  return (await metric.get()).values;
}

/** Parses the text exposition into `name{labels}` → value. */
async function scrape(m: Metrics): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await m.registry.metrics()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('Metrics', () => {
  it("registers Node's process metrics only when asked, with processMetrics 'later', and once", async () => {
    const m = new Metrics({ processMetrics: 'later' });
    expect(m.registry.getSingleMetric('process_cpu_seconds_total')).toBeUndefined();
    expect(m.registry.getSingleMetric('nodejs_eventloop_lag_seconds')).toBeUndefined();
    m.collectProcessMetrics();
    m.collectProcessMetrics(); // a second registration would throw in prom-client
    expect((await values(m, 'process_cpu_seconds_total')).length).toBe(1);
    expect(m.registry.getSingleMetric('nodejs_eventloop_lag_seconds')).toBeDefined();
    expect(new Metrics().registry.getSingleMetric('process_cpu_seconds_total')).toBeDefined();
  });

  it('registers exactly the SPEC §6 and §12 metrics (and skipped retries, edge limits, overload, certificate loads) with their label names', async () => {
    const m = new Metrics({ processMetrics: false });
    m.requestEnd(req(), 200, 0.01);
    m.attempt('reviews', 'v1', 200);
    m.retry('reviews', 'reviews');
    m.retrySkipped('reviews', 'reviews', 'budget');
    m.breakerState('reviews', 'v1', 2);
    m.ejection('reviews');
    m.endpointHealthy('reviews', '10.0.0.1:9080', true);
    m.faultInjected('reviews', 'abort');
    m.mirror('reviews', 'match');
    m.rateLimited('reviews');
    m.pendingRequests(() => [['reviews', 3]]);
    m.configReload('ok');
    m.generation(7);
    m.edgeRejected('outbound', 'header-too-large');
    // A sidecar without an identity has no certificate metrics: they appear with the first load.
    expect((await m.registry.getMetricsAsJSON()).map((x) => x.name).filter((n) => n.startsWith('pilotfish_cert_'))).toEqual([]);
    m.authzDenied('no-admin');
    m.tlsHandshakeError('inbound', 'unknown_ca');
    m.certificate('ok', 1_800_000_000);
    m.grpcEnd({ direction: 'outbound', route: 'reviews', upstream: 'reviews', subset: '', flags: [] }, 14);
    const expected: Record<string, string[]> = {
      pilotfish_requests_total: ['code', 'direction', 'flags', 'route', 'subset', 'upstream'],
      pilotfish_request_duration_seconds: ['direction', 'le', 'route', 'subset', 'upstream'],
      pilotfish_upstream_attempts_total: ['outcome', 'subset', 'upstream'],
      pilotfish_retries_total: ['route', 'upstream'],
      pilotfish_retries_skipped_total: ['reason', 'route', 'upstream'],
      pilotfish_circuit_breaker_state: ['subset', 'upstream'],
      pilotfish_outlier_ejections_total: ['upstream'],
      pilotfish_endpoint_healthy: ['endpoint', 'upstream'],
      pilotfish_faults_injected_total: ['route', 'type'],
      pilotfish_mirror_requests_total: ['outcome', 'route'],
      pilotfish_pending_requests: ['upstream'],
      pilotfish_rate_limited_total: ['route'],
      pilotfish_grpc_requests_total: ['direction', 'grpc_code', 'route', 'upstream'],
      pilotfish_config_reloads_total: ['result'],
      pilotfish_config_generation: [],
      pilotfish_downstream_connections_overflow_total: ['listener'],
      pilotfish_downstream_rejected_total: ['listener', 'reason'],
      pilotfish_overload_shed_total: ['listener'],
      pilotfish_overload_active: [],
      pilotfish_overload_memory_percent: [],
      pilotfish_authz_denied_total: ['policy'],
      pilotfish_tls_handshake_errors_total: ['listener', 'reason'],
      pilotfish_cert_expiry_timestamp_seconds: [],
      pilotfish_cert_reloads_total: ['result'],
    };
    const json = await m.registry.getMetricsAsJSON();
    expect(json.map((x) => x.name).sort()).toEqual(Object.keys(expected).sort());
    // A gRPC status is labelled by its name (SPEC §11).
    expect(json.find((x) => x.name === 'pilotfish_grpc_requests_total')?.values[0]?.labels).toMatchObject({ grpc_code: 'UNAVAILABLE' });
    for (const metric of json) {
      expect(metric.values.length, metric.name).toBeGreaterThan(0);
      const first = metric.values.find((v) => 'le' in v.labels) ?? metric.values[0]!;
      expect(Object.keys(first.labels).sort(), metric.name).toEqual(expected[metric.name]);
    }
  });

  it('counts requests by route, status and flags, and exposes them in the text format', async () => {
    const m = new Metrics({ processMetrics: false });
    for (let i = 0; i < 150; i++) m.requestEnd(req(), 200, 0.002);
    for (let i = 0; i < 50; i++) m.requestEnd(req(), 500, 0.004);
    m.requestEnd(req({ flags: ['UF', 'URX'], subset: '' }), 503, 0.001);
    const text = await scrape(m);
    const base = 'direction="outbound",route="reviews",upstream="reviews"';
    expect(text.get(`pilotfish_requests_total{${base},subset="v1",code="200",flags=""}`)).toBe(150);
    expect(text.get(`pilotfish_requests_total{${base},subset="v1",code="500",flags=""}`)).toBe(50);
    expect(text.get(`pilotfish_requests_total{${base},subset="",code="503",flags="UF,URX"}`)).toBe(1);
    expect(text.get(`pilotfish_request_duration_seconds_count{${base},subset="v1"}`)).toBe(200);
    expect(text.get(`pilotfish_request_duration_seconds_sum{${base},subset="v1"}`)).toBeCloseTo(150 * 0.002 + 50 * 0.004, 9);
    expect(text.get(`pilotfish_config_reloads_total{result="unchanged"}`)).toBe(0);
  });

  it('fills cumulative histogram buckets from sub-millisecond to +Inf', async () => {
    const m = new Metrics({ processMetrics: false });
    for (const s of [0.0001, 0.0005, 0.003, 0.7, 120, Number.NaN]) m.requestEnd(req(), 200, s);
    const buckets = new Map<string, number>();
    for (const v of await values(m, 'pilotfish_request_duration_seconds')) {
      if ((v as { metricName?: string }).metricName?.endsWith('_bucket')) buckets.set(String(v.labels.le), v.value);
    }
    expect(buckets.get('0.0005')).toBe(3); // 0.0001, 0.0005 and the NaN clamped to 0
    expect(buckets.get('0.005')).toBe(4);
    expect(buckets.get('1')).toBe(5);
    expect(buckets.get('60')).toBe(5);
    expect(buckets.get('+Inf')).toBe(6);
    expect([...buckets.keys()].length).toBe(DURATION_BUCKETS.length + 1);
  });

  it('classifies attempt outcomes into a bounded vocabulary', async () => {
    const m = new Metrics({ processMetrics: false });
    for (const o of [200, 204, 404, 503, 'reset', 'timeout', 'connect-failure', 99] as const) m.attempt('u', '', o);
    const outcomes = (await values(m, 'pilotfish_upstream_attempts_total')).map((v) => [v.labels.outcome, v.value]);
    expect(Object.fromEntries(outcomes)).toEqual({ '2xx': 2, '4xx': 1, '5xx': 1, reset: 1, timeout: 1, 'connect-failure': 1, other: 1 });
  });

  it('returns the same cached series and cell objects on repeated calls', () => {
    const m = new Metrics({ processMetrics: false });
    const a = m.requestSeries('outbound', 'reviews', 'reviews', 'v1');
    m.requestEnd(req(), 200, 0.01);
    expect(m.requestSeries('outbound', 'reviews', 'reviews', 'v1')).toBe(a);
    expect(a.counter(200, [])).toBe(a.counter(200, []));
    expect(a.counter(503, ['UF'])).toBe(a.counter(503, ['UF']));
    expect(a.counter(200, []).value).toBe(1);
    // Distinct string objects with equal contents reach the same series too.
    expect(m.requestSeries('outbound', ['rev', 'iews'].join(''), 'reviews', 'v1')).toBe(a);
  });

  it('retainOnly removes the series of vanished routes and upstreams, and only those', async () => {
    const m = new Metrics({ processMetrics: false });
    m.requestEnd(req(), 200, 0.01);
    m.requestEnd(req({ route: 'ratings', upstream: 'ratings', subset: '' }), 200, 0.01);
    m.requestEnd(req({ route: '', upstream: '', subset: '', flags: ['NR'] }), 404, 0.0001);
    m.retry('ratings', 'ratings');
    m.faultInjected('ratings', 'delay');
    m.mirror('ratings', 'error');
    m.rateLimited('ratings');
    m.attempt('ratings', '', 200);
    m.breakerState('ratings', '', 1);
    m.ejection('ratings');
    m.endpointHealthy('ratings', '10.0.0.2:80', false);
    m.endpointHealthy('reviews', '10.0.0.1:80', true);

    const removed = m.retainOnly({ routes: ['reviews'], upstreams: ['reviews'] });
    expect(removed).toBe(9);
    const routes = (await values(m, 'pilotfish_requests_total')).map((v) => v.labels.route);
    expect(routes.sort()).toEqual(['', 'reviews']);
    expect((await values(m, 'pilotfish_request_duration_seconds')).some((v) => v.labels.route === 'ratings')).toBe(false);
    for (const name of ['pilotfish_retries_total', 'pilotfish_faults_injected_total', 'pilotfish_mirror_requests_total', 'pilotfish_rate_limited_total',
      'pilotfish_upstream_attempts_total', 'pilotfish_circuit_breaker_state', 'pilotfish_outlier_ejections_total']) {
      expect(await values(m, name), name).toEqual([]);
    }
    expect((await values(m, 'pilotfish_endpoint_healthy')).map((v) => v.labels.endpoint)).toEqual(['10.0.0.1:80']);
    // A series that comes back after the reload starts again from zero.
    m.retry('ratings', 'ratings');
    expect((await values(m, 'pilotfish_retries_total'))[0]?.value).toBe(1);
  });

  it('drops one endpoint series when the endpoint leaves', async () => {
    const m = new Metrics({ processMetrics: false });
    m.endpointHealthy('u', 'a:1', true);
    m.endpointHealthy('u', 'b:1', false);
    m.endpointRemoved('u', 'a:1');
    expect((await values(m, 'pilotfish_endpoint_healthy')).map((v) => [v.labels.endpoint, v.value])).toEqual([['b:1', 0]]);
  });

  it('reads pending requests from the provider at scrape time', async () => {
    const m = new Metrics({ processMetrics: false });
    let queued = 2;
    m.pendingRequests(() => [['reviews', queued]]);
    expect((await values(m, 'pilotfish_pending_requests'))[0]?.value).toBe(2);
    queued = 0;
    expect((await values(m, 'pilotfish_pending_requests'))[0]?.value).toBe(0);
  });

  it('keeps one registry per instance, with Node process metrics by default', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.generation(3);
    b.generation(4);
    expect((await values(a, 'pilotfish_config_generation'))[0]?.value).toBe(3);
    expect((await values(b, 'pilotfish_config_generation'))[0]?.value).toBe(4);
    const names = a.registry.getMetricsAsArray().map((x) => x.name);
    expect(names).toContain('process_cpu_seconds_total');
    expect(names).toContain('nodejs_eventloop_lag_seconds');
  });
});
