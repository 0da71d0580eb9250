/**
 * Observability end to end through a real `pilotfish run` process (SPEC §6): metric values after
 * known traffic on the telemetry port, no unbounded label values, OpenTelemetry spans at a fake OTLP
 * collector in the caller's trace (one CLIENT span per try), `traceparent` at the upstream, and the
 * JSON access log on stdout.
 */
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { request, waitFor } from './helpers/http.js';
import { spawnSidecar, testListeners, type SidecarProcess } from './helpers/sidecar.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { FakeCollector } from './telemetry/fake-otlp-collector.js';
import { echoClient, grpc, startEchoServer, unary } from './helpers/grpc.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const fn of cleanup.splice(0).reverse()) await fn(); });

async function proc(policy: string, env: NodeJS.ProcessEnv = {}): Promise<SidecarProcess> {
  const p = await spawnSidecar(policy, [], env);
  cleanup.push(async () => { p.child.kill('SIGKILL'); await p.exited; });
  return p;
}

async function up(handler: http.RequestListener): Promise<Upstream> {
  const u = await startUpstream(handler);
  cleanup.push(() => u.close());
  return u;
}

const metricsOf = async (p: SidecarProcess): Promise<string> => (await request(p.ports.telemetry, { path: '/metrics' })).text;

function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const want = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (want) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('metrics', () => {
  it('counts known traffic under the route name, with no path in any label', async () => {
    let n = 0;
    const u = await up((req, res) => { req.resume(); res.writeHead(++n % 4 === 0 ? 500 : 200); res.end(); });
    const p = await proc(`version: 1\n${testListeners()}\nupstreams: { orders: { endpoints: [{ address: "${u.address}" }] } }\nroutes: [{ name: orders-api, match: { host: orders }, to: [{ upstream: orders }] }]\n`);
    for (let i = 0; i < 200; i++) await request(p.ports.outbound, { path: `/orders/${i}?user=u${i}`, headers: { host: 'orders' } });
    const text = await metricsOf(p);
    expect(value(text, 'pilotfish_requests_total', { route: 'orders-api', upstream: 'orders', code: '200' })).toBe(150);
    expect(value(text, 'pilotfish_requests_total', { route: 'orders-api', upstream: 'orders', code: '500' })).toBe(50);
    expect(value(text, 'pilotfish_request_duration_seconds_count', { route: 'orders-api' })).toBe(200);
    expect(value(text, 'pilotfish_upstream_attempts_total', { upstream: 'orders', outcome: '5xx' })).toBe(50);
    expect(value(text, 'pilotfish_config_generation', {}) ?? Number(/^pilotfish_config_generation (\d+)/m.exec(text)?.[1])).toBe(1);
    expect(text).not.toMatch(/\/orders\/\d|user=u/);
    expect(text).toMatch(/^process_cpu_user_seconds_total/m);
  });

  it('shows breaker state, retries, faults and reloads', async () => {
    const u = await up((req, res) => { req.resume(); res.writeHead(503); res.end(); });
    const policy = (extra: string): string => `version: 1\n${testListeners()}\nupstreams: { u: { endpoints: [{ address: "${u.address}" }], circuitBreaker: { volumeThreshold: 4, resetTimeout: 1m } } }\nroutes:\n  - { name: r, match: { host: svc }, to: [{ upstream: u }], retries: { attempts: 1, retryOn: [5xx], backoff: { base: 1ms, max: 2ms } } }\n  - { name: f, match: { host: faulty }, to: [{ upstream: u }], fault: { abort: { status: 418, percent: 100 } } }\n${extra}`;
    const p = await proc(policy(''));
    for (let i = 0; i < 3; i++) await request(p.ports.outbound, { headers: { host: 'svc' } });
    await request(p.ports.outbound, { headers: { host: 'faulty' } });
    const text = await metricsOf(p);
    expect(value(text, 'pilotfish_circuit_breaker_state', { upstream: 'u' })).toBe(2);
    // The transition is in the operational log (stderr) too.
    expect(p.logs.find((l) => l.msg === 'circuit breaker open')).toMatchObject({ level: 40, upstream: 'u' });
    expect(value(text, 'pilotfish_retries_total', { route: 'r', upstream: 'u' })).toBeGreaterThanOrEqual(1);
    expect(value(text, 'pilotfish_faults_injected_total', { route: 'f', type: 'abort' })).toBe(1);
    expect(value(text, 'pilotfish_requests_total', { route: 'r', flags: 'CO' })).toBeGreaterThanOrEqual(1);
    const file = p.child.spawnargs[p.child.spawnargs.indexOf('--policy') + 1]!;
    await writeFile(file, policy('# edit\n'));
    await waitFor(async () => value(await metricsOf(p), 'pilotfish_config_reloads_total', { result: 'ok' }) === 2, { what: 'the reload to be counted' });
    await writeFile(file, 'version: [');
    await waitFor(async () => value(await metricsOf(p), 'pilotfish_config_reloads_total', { result: 'error' }) === 1, { what: 'the failed reload to be counted' });
    expect(/^pilotfish_config_generation (\d+)/m.exec(await metricsOf(p))?.[1]).toBe('2');
  });
});

describe('traces and the access log', () => {
  it('exports SERVER and per-try CLIENT spans in the caller trace; the upstream sees traceparent', async () => {
    const collector = await FakeCollector.start();
    cleanup.push(() => collector.close());
    let n = 0;
    const parents: string[] = [];
    const u = await up((req, res) => { parents.push(String(req.headers.traceparent)); req.resume(); res.writeHead(++n === 1 ? 503 : 200); res.end('ok'); });
    const p = await proc(`version: 1\n${testListeners()}\nupstreams: { u: { endpoints: [{ address: "${u.address}" }] } }\nroutes: [{ name: traced, match: { host: svc }, to: [{ upstream: u }], retries: { attempts: 2, retryOn: [5xx], backoff: { base: 1ms, max: 2ms } } }]\n`, {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_SERVICE_NAME: 'pilotfish-test',
    });
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const caller = '00f067aa0ba902b7';
    const r = await request(p.ports.outbound, { path: '/t?secret=1', headers: { host: 'svc', traceparent: `00-${trace}-${caller}-01` } });
    expect(r.status).toBe(200);
    const spans = await waitFor(() => { const s = collector.spans().filter((x) => x.traceId === trace); return s.length >= 3 ? s : undefined; }, { timeoutMs: 5000, what: 'three spans' });
    const server = spans.find((s) => s.kind === 2)!;
    const clients = spans.filter((s) => s.kind === 3);
    expect(server.parentSpanId).toBe(caller);
    expect(clients).toHaveLength(2);
    for (const c of clients) expect(c.parentSpanId).toBe(server.spanId);
    expect(clients.map((c) => c.attributes['pilotfish.attempt']).sort()).toEqual([1, 2]);
    expect(server.attributes['pilotfish.route']).toBe('traced');
    expect(server.resource['service.name']).toBe('pilotfish-test');
    // Each try carried its own span id upstream, in the caller's trace.
    expect(parents.map((tp) => tp.split('-')[2]).sort()).toEqual(clients.map((c) => c.spanId).sort());
    expect(parents.every((tp) => tp.split('-')[1] === trace)).toBe(true);
    // The access log line on stdout names the same trace, and carries no query string.
    const line = await waitFor(() => p.stdout.map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.route === 'traced'), { what: 'the access log line' });
    expect(line).toMatchObject({ direction: 'outbound', method: 'GET', path: '/t', status: 200, route: 'traced', upstream: 'u', attempts: 2, traceId: trace, generation: 1 });
    expect(line).toHaveProperty('duration');
    // Wire bytes on the client connection, heads included: at least the request and status lines.
    expect(line.bytesIn).toBeGreaterThanOrEqual('GET /t?secret=1 HTTP/1.1\r\n'.length);
    expect(line.bytesOut).toBeGreaterThanOrEqual('HTTP/1.1 200 OK\r\n\r\nok'.length);
    expect(line).toHaveProperty('endpoint', u.address);
    expect(line).toHaveProperty('time');
  });

  it('an unsampled request still sends traceparent upstream on every try, sampled flag 0, and exports nothing', async () => {
    const collector = await FakeCollector.start();
    cleanup.push(() => collector.close());
    let n = 0;
    const parents: string[] = [];
    // Every odd request answers 503 once, so each request makes two tries.
    const u = await up((req, res) => { parents.push(String(req.headers.traceparent)); req.resume(); res.writeHead(++n % 2 === 1 ? 503 : 200); res.end('ok'); });
    const p = await proc(`version: 1\n${testListeners()}\nupstreams: { u: { endpoints: [{ address: "${u.address}" }] } }\nroutes: [{ name: unsampled, match: { host: svc }, to: [{ upstream: u }], retries: { attempts: 2, retryOn: [5xx], backoff: { base: 1ms, max: 2ms } } }]\n`, {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0',
    });
    const logged = async (path: string): Promise<string> => {
      const line = await waitFor(() => p.stdout.map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.path === path), { what: `the access log line of ${path}` });
      return String(line.traceId);
    };
    // A new root trace: the sidecar makes the trace id, the access log names it, the upstream gets it.
    expect((await request(p.ports.outbound, { path: '/root', headers: { host: 'svc' } })).status).toBe(200);
    const root = await logged('/root');
    expect(root).toMatch(/^[0-9a-f]{32}$/);
    expect(root).not.toBe('0'.repeat(32));
    expect(parents).toHaveLength(2);
    for (const tp of parents) expect(tp).toMatch(new RegExp(`^00-${root}-[0-9a-f]{16}-00$`));
    // A caller's unsampled trace is continued: its trace id, a parent id of ours, the flag still 0.
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const caller = '00f067aa0ba902b7';
    expect((await request(p.ports.outbound, { path: '/caller', headers: { host: 'svc', traceparent: `00-${trace}-${caller}-00` } })).status).toBe(200);
    expect(await logged('/caller')).toBe(trace);
    expect(parents).toHaveLength(4);
    for (const tp of parents.slice(2)) {
      expect(tp).toMatch(new RegExp(`^00-${trace}-[0-9a-f]{16}-00$`));
      expect(tp.split('-')[2]).not.toBe(caller);
    }
    // A sampled caller is followed (parent-based), and its spans are all that reach the collector:
    // the unsampled requests' spans, had any been made, would have been exported before or with them.
    const sampled = '5bf92f3577b34da6a3ce929d0e0e4737';
    expect((await request(p.ports.outbound, { path: '/sampled', headers: { host: 'svc', traceparent: `00-${sampled}-${caller}-01` } })).status).toBe(200);
    await waitFor(() => (collector.spans().filter((s) => s.traceId === sampled).length >= 3 ? true : undefined), { timeoutMs: 5000, what: 'the sampled request\'s three spans' });
    expect(new Set(collector.spans().map((s) => s.traceId))).toEqual(new Set([sampled]));
    for (const tp of parents.slice(4)) expect(tp).toMatch(new RegExp(`^00-${sampled}-[0-9a-f]{16}-01$`));
  });
});

describe('spans of gRPC calls', () => {
  it('the SERVER span and each try\'s CLIENT span carry rpc.system, rpc.service, rpc.method and rpc.grpc.status_code', async () => {
    const collector = await FakeCollector.start();
    cleanup.push(() => collector.close());
    const [good, failing, shadow] = await Promise.all([startEchoServer('good'), startEchoServer('failing'), startEchoServer('shadow')]);
    failing.mode = grpc.status.INTERNAL;
    cleanup.push(() => Promise.all([good.close(), failing.close(), shadow.close()]).then(() => {}));
    const p = await proc(`version: 1\n${testListeners()}\nupstreams:\n  good: { protocol: http2, endpoints: [{ address: "${good.address}" }] }\n  failing: { protocol: http2, endpoints: [{ address: "${failing.address}" }] }\n  shadow: { protocol: http2, endpoints: [{ address: "${shadow.address}" }] }\nroutes:\n  - { name: good, match: { host: good.svc }, to: [{ upstream: good }], mirror: { upstream: shadow, percent: 100 } }\n  - { name: failing, match: { host: failing.svc }, to: [{ upstream: failing }] }\n`, {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '50',
    });
    const ok = echoClient(p.ports.outbound, 'good.svc');
    const bad = echoClient(p.ports.outbound, 'failing.svc');
    cleanup.push(() => { ok.close(); bad.close(); });
    expect((await unary(ok, { text: 'u' })).err).toBeNull();
    // A streamed answer: its status comes in the trailers, after the messages.
    const stream = ok.ServerStream({ count: 5, size: 10 });
    stream.resume();
    await new Promise<void>((resolve, reject) => { stream.on('end', resolve); stream.on('error', reject); });
    // A trailers-only error answer.
    expect((await unary(bad, { text: 'x' })).err?.code).toBe(grpc.status.INTERNAL);
    const spans = await waitFor(() => {
      const s = collector.spans().filter((x) => x.attributes['rpc.system'] === 'grpc');
      return s.length >= 8 ? s : undefined;
    }, { what: 'the SERVER and CLIENT spans of three gRPC calls, and the two mirrored calls\' CLIENT spans' });
    const find = (kind: number, upstream: string, method: string) => spans.find((s) => s.kind === kind && s.attributes['rpc.method'] === method && (kind === 2 || s.attributes['pilotfish.upstream'] === upstream));
    for (const kind of [2, 3]) { // SERVER, CLIENT
      const unaryOk = find(kind, 'good', 'Unary');
      expect(unaryOk?.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.service': 'pilotfish.test.Echo', 'rpc.method': 'Unary', 'rpc.grpc.status_code': 0 });
      expect(unaryOk?.status.code ?? 0).not.toBe(2);
      expect(find(kind, 'good', 'ServerStream')?.attributes['rpc.grpc.status_code']).toBe(0);
    }
    const failed = spans.filter((s) => s.attributes['rpc.grpc.status_code'] === grpc.status.INTERNAL);
    expect(failed.map((s) => s.kind).sort()).toEqual([2, 3]);
    // INTERNAL is an error on both sides (OpenTelemetry's gRPC conventions), though the HTTP status is 200.
    for (const s of failed) expect(s.status.code).toBe(2);
    expect(failed.find((s) => s.kind === 3)?.attributes['pilotfish.upstream']).toBe('failing');
    // The mirrored calls' CLIENT spans: the same attributes, the shadow's own status.
    const mirrored = spans.filter((s) => s.attributes['pilotfish.mirror'] === true).map((s) => [s.attributes['pilotfish.upstream'], s.attributes['rpc.method'], s.attributes['rpc.grpc.status_code']]);
    expect(mirrored.sort()).toEqual([['shadow', 'ServerStream', 0], ['shadow', 'Unary', 0]]);
  });
});
