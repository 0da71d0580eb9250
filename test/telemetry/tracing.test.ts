/**
 * Tracing end to end over real sockets: a caller with a W3C `traceparent` → a minimal proxy that uses
 * the telemetry API the way the pipeline will (SERVER span, one CLIENT span per try, a mirror call) →
 * a fake upstream that records the `traceparent` it receives; the spans go to a fake OTLP collector.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { NOOP_TRACING, createTracing, type Tracing } from '../../src/telemetry/index.js';
import { FakeCollector } from './fake-otlp-collector.js';

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const CALLER_TRACEPARENT = `00-${CALLER_TRACE}-${CALLER_SPAN}-01`;

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function listen(handler: http.RequestListener): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanup.push(() => { server.closeAllConnections(); server.close(); });
  return { server, port: (server.address() as AddressInfo).port };
}

function request(port: number, path: string, headers: http.OutgoingHttpHeaders = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** An upstream answering `statuses` in turn and recording each request's `traceparent`. */
async function fakeUpstream(statuses: number[]) {
  const seen: string[] = [];
  const states: string[] = [];
  let i = 0;
  const { port } = await listen((req, res) => {
    seen.push(String(req.headers.traceparent ?? ''));
    states.push(String(req.headers.tracestate ?? ''));
    res.writeHead(statuses[Math.min(i++, statuses.length - 1)]!);
    res.end();
  });
  return { port, seen, states };
}

/** A proxy doing what the pipeline does: retry 5xx once, mirror every request, trace all of it. */
async function miniProxy(tracing: Tracing, upstreamPort: number, mirrorPort: number) {
  const traceIds: string[] = [];
  const { port } = await listen(async (req, res) => {
    const server = tracing.startServer(req.headers, {
      direction: 'inbound', method: req.method ?? 'GET', host: req.headers.host ?? '', path: req.url ?? '/',
      peerAddress: req.socket.remoteAddress, peerPort: req.socket.remotePort, requestId: 'req-1',
    });
    traceIds.push(server.traceId);
    const endpoint = `127.0.0.1:${upstreamPort}`;
    let status = 0;
    let attempts = 0;
    while (attempts < 2) {
      attempts++;
      const client = server.startClient({ method: 'GET', endpoint, path: '/v2/items?token=secret', upstream: 'reviews', subset: 'v1', attempt: attempts });
      const headers: http.OutgoingHttpHeaders = { traceparent: String(req.headers.traceparent ?? '') };
      client.inject(headers);
      status = await request(upstreamPort, '/v2/items', headers);
      client.end(status);
      if (status < 500) break;
    }
    const shadow = server.startClient({ method: 'GET', endpoint: `127.0.0.1:${mirrorPort}`, path: '/v2/items', upstream: 'reviews-next', subset: '', attempt: 1, mirror: true });
    const shadowHeaders: http.OutgoingHttpHeaders = {};
    shadow.inject(shadowHeaders);
    await request(mirrorPort, '/v2/items', shadowHeaders).then((s) => shadow.end(s), (e: Error) => shadow.end(e));
    server.end(status, { route: 'reviews', upstream: 'reviews', subset: 'v1', endpoint, flags: [], attempts });
    res.writeHead(status);
    res.end();
  });
  return { port, traceIds };
}

async function tracingTo(collector: FakeCollector, extra: Record<string, string> = {}): Promise<Tracing> {
  const tracing = await createTracing({
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_SERVICE_NAME: 'pilotfish-test', ...extra },
  });
  cleanup.push(() => tracing.shutdown());
  return tracing;
}

describe('tracing', () => {
  it('continues the caller trace: SERVER span, one CLIENT span per try, a mirror CLIENT span', async () => {
    const collector = await FakeCollector.start();
    cleanup.push(() => collector.close());
    const tracing = await tracingTo(collector);
    expect(tracing.enabled).toBe(true);
    const upstream = await fakeUpstream([503, 200]);
    const mirror = await fakeUpstream([200]);
    const proxy = await miniProxy(tracing, upstream.port, mirror.port);

    expect(await request(proxy.port, '/items?user=42', { traceparent: CALLER_TRACEPARENT, tracestate: 'vendor=abc', 'user-agent': 'test/1' })).toBe(200);
    await tracing.forceFlush();
    const spans = await collector.waitFor(() => { const s = collector.spans(); return s.length >= 4 ? s : undefined; });

    expect(proxy.traceIds).toEqual([CALLER_TRACE]);
    expect(spans.every((s) => s.traceId === CALLER_TRACE)).toBe(true);
    const server = spans.find((s) => s.kind === 2)!;
    const clients = spans.filter((s) => s.kind === 3 && !s.attributes['pilotfish.mirror']).sort((a, b) => Number(a.attributes['pilotfish.attempt']) - Number(b.attributes['pilotfish.attempt']));
    const shadow = spans.find((s) => s.kind === 3 && s.attributes['pilotfish.mirror'] === true)!;
    expect(spans).toHaveLength(4);
    expect(server.parentSpanId).toBe(CALLER_SPAN);
    expect(clients.map((c) => c.parentSpanId)).toEqual([server.spanId, server.spanId]);
    expect(shadow.parentSpanId).toBe(server.spanId);

    expect(server.name).toBe('GET reviews');
    expect(server.resource['service.name']).toBe('pilotfish-test');
    expect(server.attributes).toMatchObject({
      'http.request.method': 'GET', 'url.path': '/items', 'url.scheme': 'http', 'server.address': '127.0.0.1',
      'server.port': proxy.port, 'network.peer.address': '127.0.0.1', 'user_agent.original': 'test/1',
      'http.response.status_code': 200, 'pilotfish.route': 'reviews', 'pilotfish.upstream': 'reviews',
      'pilotfish.subset': 'v1', 'pilotfish.endpoint': `127.0.0.1:${upstream.port}`, 'pilotfish.attempts': 2,
      'pilotfish.direction': 'inbound', 'pilotfish.request_id': 'req-1',
    });
    expect(server.status.code ?? 0).toBe(0);

    expect(clients[0]!.attributes).toMatchObject({
      'http.request.method': 'GET', 'server.address': '127.0.0.1', 'server.port': upstream.port,
      'network.peer.address': '127.0.0.1', 'url.full': `http://127.0.0.1:${upstream.port}/v2/items`,
      'http.response.status_code': 503, 'error.type': '503', 'pilotfish.attempt': 1, 'pilotfish.upstream': 'reviews',
    });
    expect(clients[0]!.status.code).toBe(2); // ERROR
    expect(clients[0]!.attributes['http.request.resend_count']).toBeUndefined();
    expect(clients[1]!.attributes).toMatchObject({ 'http.response.status_code': 200, 'pilotfish.attempt': 2, 'http.request.resend_count': 1 });

    // Each try carried its own span id, in the caller's trace, with the caller's tracestate.
    expect(upstream.seen).toEqual(clients.map((c) => `00-${CALLER_TRACE}-${c.spanId}-01`));
    expect(upstream.states).toEqual(['vendor=abc', 'vendor=abc']);
    expect(mirror.seen).toEqual([`00-${CALLER_TRACE}-${shadow.spanId}-01`]);
    expect(collector.requests.every((r) => r.path === '/v1/traces')).toBe(true);
  });

  it('starts a new trace without a traceparent, and records connect failures on the CLIENT span', async () => {
    const collector = await FakeCollector.start();
    cleanup.push(() => collector.close());
    const tracing = await tracingTo(collector);
    const server = tracing.startServer({}, { direction: 'outbound', method: 'BREW', host: 'reviews', path: '/' });
    expect(server.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(server.traceId).not.toBe(CALLER_TRACE);
    const client = server.startClient({ method: 'BREW', endpoint: 'reviews.default.svc:9080', path: '/', upstream: 'reviews', subset: '', attempt: 1 });
    const refused = await request(1, '/').catch((e: Error) => e);
    client.end(refused as Error);
    client.end(200); // a second end is ignored
    server.end(503, { route: '', upstream: 'reviews', subset: '', endpoint: '', flags: ['UF'], attempts: 1 });
    await tracing.forceFlush();
    const spans = await collector.waitFor(() => { const s = collector.spans(); return s.length >= 2 ? s : undefined; });
    const s = spans.find((x) => x.kind === 2)!;
    const c = spans.find((x) => x.kind === 3)!;
    expect(spans).toHaveLength(2);
    expect(s.parentSpanId).toBe('');
    expect(s.traceId).toBe(server.traceId);
    expect(s.name).toBe('HTTP');
    expect(s.attributes).toMatchObject({ 'http.request.method': '_OTHER', 'http.request.method_original': 'BREW', 'pilotfish.flags': 'UF', 'error.type': '503' });
    expect(s.status.code).toBe(2);
    expect(c.attributes).toMatchObject({ 'error.type': 'ECONNREFUSED', 'server.address': 'reviews.default.svc', 'server.port': 9080 });
    expect(c.attributes['network.peer.address']).toBeUndefined();
    expect(c.attributes['http.response.status_code']).toBeUndefined();
  });

  it('exports http/protobuf when asked', async () => {
    const collector = await FakeCollector.start();
    cleanup.push(() => collector.close());
    const tracing = await tracingTo(collector, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' });
    const server = tracing.startServer({ traceparent: CALLER_TRACEPARENT }, { direction: 'inbound', method: 'GET', host: 'app:8080', path: '/' });
    server.end(200, { route: 'proto-route', upstream: 'app', subset: '', endpoint: '', flags: [], attempts: 0 });
    await tracing.forceFlush();
    const req = await collector.waitFor(() => collector.requests[0]);
    expect(req.path).toBe('/v1/traces');
    expect(req.contentType).toBe('application/x-protobuf');
    // Not decoded: the raw trace id bytes and the route name must be in the message.
    expect(req.body.includes(Buffer.from(CALLER_TRACE, 'hex'))).toBe(true);
    expect(req.body.includes(Buffer.from('proto-route'))).toBe(true);
  });

  it('still propagates the trace when the sampler drops it, and exports nothing', async () => {
    const collector = await FakeCollector.start();
    cleanup.push(() => collector.close());
    const tracing = await tracingTo(collector, { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' });
    const server = tracing.startServer({ traceparent: CALLER_TRACEPARENT }, { direction: 'inbound', method: 'GET', host: 'app', path: '/' });
    const client = server.startClient({ method: 'GET', endpoint: '10.0.0.1:80', path: '/', upstream: 'app', subset: '', attempt: 1 });
    const headers: Record<string, unknown> = {};
    client.inject(headers);
    client.end(200);
    server.end(200, { route: 'r', upstream: 'app', subset: '', endpoint: '', flags: [], attempts: 1 });
    await tracing.forceFlush();
    expect(server.traceId).toBe(CALLER_TRACE);
    expect(headers.traceparent).toMatch(new RegExp(`^00-${CALLER_TRACE}-[0-9a-f]{16}-00$`));
    expect(collector.requests).toHaveLength(0);
  });

  it('samples at the configured ratio, and exports exactly the requests it marked sampled', async () => {
    // The decision is made once, before the SDK is involved; a second, disagreeing decision inside
    // the SDK would export about ratio² of the requests while marking a ratio of them sampled.
    const collector = await FakeCollector.start();
    cleanup.push(() => collector.close());
    const tracing = await tracingTo(collector, { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' });
    const n = 400;
    let marked = 0;
    for (let i = 0; i < n; i++) {
      const server = tracing.startServer({}, { direction: 'inbound', method: 'GET', host: 'app', path: '/' });
      const client = server.startClient({ method: 'GET', endpoint: '10.0.0.1:80', path: '/', upstream: 'app', subset: '', attempt: 1 });
      const headers: Record<string, unknown> = {};
      client.inject(headers);
      expect(String(headers.traceparent)).toMatch(new RegExp(`^00-${server.traceId}-[0-9a-f]{16}-0[01]$`));
      if (String(headers.traceparent).endsWith('-01')) marked++;
      client.end(200);
      server.end(200, { route: 'r', upstream: 'app', subset: '', endpoint: '', flags: [], attempts: 1 });
    }
    await tracing.forceFlush();
    const servers = await collector.waitFor(() => { const s = collector.spans().filter((x) => x.kind === 2); return s.length >= marked ? s : undefined; });
    expect(servers.length).toBe(marked);
    // Binomial(400, 0.5): sd 10 requests; ±50 is 5 sd.
    expect(Math.abs(marked - n / 2)).toBeLessThan(50);
  });

  it('flushes buffered spans on shutdown', async () => {
    const collector = await FakeCollector.start();
    cleanup.push(() => collector.close());
    // A minute between scheduled exports: only shutdown can deliver the span within the test.
    const tracing = await tracingTo(collector, { OTEL_BSP_SCHEDULE_DELAY: '60000' });
    const server = tracing.startServer({}, { direction: 'inbound', method: 'GET', host: 'app', path: '/' });
    server.end(200, { route: 'r', upstream: 'app', subset: '', endpoint: '', flags: [], attempts: 1 });
    expect(collector.requests).toHaveLength(0);
    await tracing.shutdown();
    expect(collector.spans()).toHaveLength(1);
  });

  it('exports a full batch at once, without waiting for the schedule delay (OTEL_BSP_MAX_EXPORT_BATCH_SIZE)', async () => {
    const collector = await FakeCollector.start();
    cleanup.push(() => collector.close());
    // A minute between scheduled exports: only a full batch can leave within the test.
    const tracing = await tracingTo(collector, { OTEL_BSP_SCHEDULE_DELAY: '60000', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4' });
    const end = (): void => tracing.startServer({}, { direction: 'inbound', method: 'GET', host: 'app', path: '/' })
      .end(200, { route: 'r', upstream: 'app', subset: '', endpoint: '', flags: [], attempts: 1 });
    for (let i = 0; i < 3; i++) end();
    // Three spans wait for the delay: nothing is sent (polled a while, not slept on).
    await expect(collector.waitFor(() => (collector.requests.length > 0 ? true : undefined), 300)).rejects.toThrow();
    for (let i = 0; i < 5; i++) end();
    const exported = await collector.waitFor(() => { const s = collector.spans(); return s.length >= 8 ? s : undefined; });
    expect(exported).toHaveLength(8);
    expect(collector.requests).toHaveLength(2); // two batches of 4
  });

  it('drops spans beyond OTEL_BSP_MAX_QUEUE_SIZE while an export is slow, says so, and sends the rest', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
    const collector = await FakeCollector.start();
    cleanup.push(() => collector.close());
    const tracing = await createTracing({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '60000', OTEL_BSP_MAX_QUEUE_SIZE: '5', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2' },
      log,
    });
    cleanup.push(() => tracing.shutdown());
    const release = collector.hold();
    const end = (i: number): void => tracing.startServer({}, { direction: 'inbound', method: 'GET', host: 'app', path: `/${i}` })
      .end(200, { route: 'r', upstream: 'app', subset: '', endpoint: '', flags: [], attempts: 1 });
    end(0);
    end(1); // a full batch: exported at once, and the collector holds it
    await collector.waitFor(() => (collector.requests.length === 1 ? true : undefined));
    // One export at a time: spans 2–6 fill the queue of 5, 7 and 8 find it full.
    for (let i = 2; i < 9; i++) end(i);
    release();
    await tracing.forceFlush();
    const paths = collector.spans().map((x) => x.attributes['url.path']);
    expect(paths).toEqual(['/0', '/1', '/2', '/3', '/4', '/5', '/6']);
    expect(lines.some((l) => l.msg === 'opentelemetry' && /dropped/.test(JSON.stringify(l.otel)))).toBe(true);
  });

  it('gives up on a collector that never answers once the shutdown timeout passes', async () => {
    const { port } = await listen(() => { /* accept the export, never answer */ });
    const tracing = await createTracing({ env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces` }, shutdownTimeoutMs: 200 });
    tracing.startServer({}, { direction: 'inbound', method: 'GET', host: 'app', path: '/' })
      .end(200, { route: 'r', upstream: 'app', subset: '', endpoint: '', flags: [], attempts: 1 });
    const started = Date.now();
    await tracing.shutdown();
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('logs its decision and every ignored setting through a pino logger', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
    const off = await createTracing({ env: { OTEL_TRACES_SAMPLER: 'sometimes' }, log });
    expect(off).toBe(NOOP_TRACING);
    expect(lines.map((l) => l.msg)).toEqual(['tracing off']);
    const collector = await FakeCollector.start();
    cleanup.push(() => collector.close());
    const on = await createTracing({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_TRACES_SAMPLER: 'sometimes' }, log });
    cleanup.push(() => on.shutdown());
    expect(lines.slice(1).map((l) => l.msg)).toEqual(['tracing setting ignored', 'tracing on']);
    expect(lines[2]).toMatchObject({ url: `${collector.url}/v1/traces`, protocol: 'http/protobuf', serviceName: 'pilotfish' });
  });

  it('is a shared no-op without an endpoint, or with OTEL_TRACES_EXPORTER=none', async () => {
    const off = await createTracing({ env: {} });
    const none = await createTracing({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_EXPORTER: 'none' } });
    expect(off).toBe(NOOP_TRACING);
    expect(none).toBe(NOOP_TRACING);
    const a = off.startServer({ traceparent: CALLER_TRACEPARENT }, { direction: 'inbound', method: 'GET', host: 'h', path: '/' });
    const b = off.startServer({}, { direction: 'outbound', method: 'POST', host: 'h', path: '/x' });
    expect(a).toBe(b);
    expect(a.traceId).toBe('');
    const client = a.startClient({ method: 'GET', endpoint: 'e:1', path: '/', upstream: 'u', subset: '', attempt: 1 });
    expect(client).toBe(b.startClient({ method: 'GET', endpoint: 'e:1', path: '/', upstream: 'u', subset: '', attempt: 2 }));
    const headers: Record<string, unknown> = { traceparent: CALLER_TRACEPARENT };
    client.inject(headers);
    expect(headers).toEqual({ traceparent: CALLER_TRACEPARENT }); // passed through untouched
  });
});
