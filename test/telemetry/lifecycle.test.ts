/**
 * The three telemetry pieces wired into one request lifecycle the way the pipeline is meant to wire
 * them, over real sockets: caller → a minimal proxy (one `RequestContext` per request) → upstream.
 * Checks the metric values after known traffic, that no label carries a path, the access-log lines,
 * and that the access log's trace id is the caller's trace.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestContext } from '../../src/core/context.js';
import {
  AccessLog, Metrics, createTracing, type AccessContext, type RequestLabels, type ServerSpanEnd, type Tracing,
} from '../../src/telemetry/index.js';
import { FakeCollector } from './fake-otlp-collector.js';

const TRACE = '0af7651916cd43dd8448eb211c80319c';

/** The pipeline hands its `RequestContext` to all three; this fails to compile if that stops working. */
export const contextFits = (c: RequestContext): [RequestLabels, ServerSpanEnd, AccessContext] => [c, c, c];
/** What this test's stand-in proxy keeps per request: the part of `RequestContext` telemetry reads. */
interface Ctx {
  direction: string; requestId: string; start: number; generation: number; flags: string[];
  route: string; upstream: string; subset: string; endpoint: string; attempts: number;
  peer: string; transportFailure: string;
}
const servers: http.Server[] = [];
let collector: FakeCollector;
let tracing: Tracing;
const metrics = new Metrics();
const accessLines: string[] = [];
const accessLog = new AccessLog({ destination: { write: (s: string) => { accessLines.push(s); } } });

async function listen(handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

const agent = new http.Agent({ keepAlive: true });
function send(port: number, path: string, headers: http.OutgoingHttpHeaders, body = ''): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let proxyPort = 0;
beforeAll(async () => {
  collector = await FakeCollector.start();
  tracing = await createTracing({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' } });
  // Every fourth request fails upstream: 150 × 200 and 50 × 500 out of 200.
  let n = 0;
  const upstreamPort = await listen((req, res) => {
    req.resume();
    const status = ++n % 4 === 0 ? 500 : 200;
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end('hello');
  });
  const endpoint = `127.0.0.1:${upstreamPort}`;

  proxyPort = await listen((req, res) => {
    // 1. Arrival: the context, then the SERVER span (continues the caller's traceparent).
    const ctx: Ctx = {
      direction: 'inbound', requestId: `req-${n}`, start: performance.now(), generation: 1,
      flags: [], route: '', upstream: '', subset: '', endpoint: '', attempts: 0, peer: '', transportFailure: '',
    };
    const span = tracing.startServer(req.headers, {
      direction: ctx.direction, method: req.method ?? 'GET', host: req.headers.host ?? '', path: req.url ?? '/',
      peerAddress: req.socket.remoteAddress, peerPort: req.socket.remotePort, requestId: ctx.requestId,
    });
    let bytesIn = 0;
    let bytesOut = 0;
    req.on('data', (c: Buffer) => { bytesIn += c.length; });
    // 3. The end of the answer: metrics, span, access log — once, whatever the outcome.
    res.once('close', () => {
      const durationMs = performance.now() - ctx.start;
      metrics.requestEnd(ctx, res.statusCode, durationMs / 1000);
      span.end(res.statusCode, ctx);
      accessLog.write(ctx, {
        method: req.method ?? 'GET', host: req.headers.host ?? '', path: req.url ?? '/', status: res.statusCode,
        durationMs, bytesIn, bytesOut,
      }, span.traceId);
    });
    // 2. Routing and one try: a CLIENT span per try, its context injected into the upstream request.
    ctx.route = 'items';
    ctx.upstream = 'backend';
    ctx.subset = 'v1';
    ctx.endpoint = endpoint;
    ctx.attempts++;
    const client = span.startClient({ method: req.method ?? 'GET', endpoint, path: req.url ?? '/', upstream: ctx.upstream, subset: ctx.subset, attempt: ctx.attempts });
    const headers: http.OutgoingHttpHeaders = { ...req.headers };
    client.inject(headers);
    const up = http.request({ host: '127.0.0.1', port: upstreamPort, path: req.url, method: req.method, headers, agent }, (ures) => {
      client.end(ures.statusCode ?? 502);
      metrics.attempt(ctx.upstream, ctx.subset, ures.statusCode ?? 502);
      res.writeHead(ures.statusCode ?? 502, ures.headers);
      ures.on('data', (c: Buffer) => { bytesOut += c.length; });
      ures.pipe(res);
    });
    up.on('error', (err) => { client.end(err); res.writeHead(503).end(); });
    req.pipe(up);
  });
});

afterAll(async () => {
  agent.destroy();
  for (const s of servers) { s.closeAllConnections(); s.close(); }
  await tracing.shutdown();
  await collector.close();
});

describe('telemetry across a request lifecycle', () => {
  it('counts, traces and logs 200 requests', async () => {
    for (let i = 0; i < 200; i++) {
      const headers: http.OutgoingHttpHeaders = { traceparent: `00-${TRACE}-${(i + 1).toString(16).padStart(16, '0')}-01` };
      await send(proxyPort, `/items/${i}?session=s3cr3t`, headers, i % 2 ? 'body' : '');
    }
    // The 'close' listeners run just after the client saw the end of each answer.
    await collector.waitFor(() => (accessLines.length === 200 ? true : undefined));

    const text = await metrics.registry.metrics();
    const base = 'direction="inbound",route="items",upstream="backend",subset="v1"';
    expect(text).toContain(`pilotfish_requests_total{${base},code="200",flags=""} 150\n`);
    expect(text).toContain(`pilotfish_requests_total{${base},code="500",flags=""} 50\n`);
    expect(text).toContain(`pilotfish_request_duration_seconds_count{${base}} 200\n`);
    expect(text).toContain('pilotfish_upstream_attempts_total{upstream="backend",subset="v1",outcome="2xx"} 150\n');
    expect(text).toContain('pilotfish_upstream_attempts_total{upstream="backend",subset="v1",outcome="5xx"} 50\n');
    // No label of ours carries a path, a query or anything else request-specific.
    const labelValues = [...text.matchAll(/^pilotfish_\w+\{([^}]*)\}/gm)].flatMap((m) => [...m[1]!.matchAll(/="([^"]*)"/g)].map((v) => v[1]!));
    expect(labelValues.filter((v) => v.includes('/') || v.includes('?') || v.includes('s3cr3t'))).toEqual([]);

    const entries = accessLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.filter((e) => e.status === 500)).toHaveLength(50);
    expect(entries[1]).toMatchObject({
      log: 'access', direction: 'inbound', method: 'POST', path: '/items/1', status: 200, flags: '', route: 'items',
      upstream: 'backend', subset: 'v1', attempts: 1, bytesIn: 4, bytesOut: 5, traceId: TRACE, generation: 1,
    });
    expect(accessLines.some((l) => l.includes('s3cr3t'))).toBe(false);

    await tracing.forceFlush();
    const spans = await collector.waitFor(() => { const s = collector.spans(); return s.length >= 400 ? s : undefined; });
    expect(spans.filter((s) => s.kind === 2)).toHaveLength(200);
    expect(spans.filter((s) => s.kind === 3)).toHaveLength(200);
    expect(spans.every((s) => s.traceId === TRACE)).toBe(true);
  });
});
