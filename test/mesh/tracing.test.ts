/**
 * Library mode's spans: the application registers its own OpenTelemetry SDK (a tracer provider
 * exporting OTLP/JSON to a fake collector, and an AsyncLocalStorage context manager); a span it has
 * active when it calls the mesh is the parent of the mesh's CLIENT span for each try, and each try's
 * `traceparent` reaches the upstream with that CLIENT span's id.
 */
import http from 'node:http';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, describe, expect, it } from 'vitest';
import { createMesh } from '../../src/index.js';
import { FakeCollector } from '../telemetry/fake-otlp-collector.js';
import { TEST_ENGINE } from '../helpers/sidecar.js';
import { startUpstream } from '../helpers/upstream.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterAll(async () => { for (const fn of cleanup.splice(0).reverse()) await fn(); });

describe('library mode tracing', () => {
  it('the application\'s active span is the parent of the mesh\'s CLIENT spans, one per try', async () => {
    const collector = await FakeCollector.start();
    cleanup.push(() => collector.close());
    const provider = new TracerProvider({ spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${collector.url}/v1/traces` }) })] });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
    cleanup.push(() => { trace.disable(); context.disable(); return provider.shutdown(); });

    let n = 0;
    const u = await startUpstream((req: http.IncomingMessage, res: http.ServerResponse) => { req.resume(); res.writeHead(++n === 1 ? 503 : 200); res.end(); });
    cleanup.push(() => u.close());
    const mesh = await createMesh({
      engine: TEST_ENGINE,
      policy: { version: 1, upstreams: { u: { endpoints: [{ address: u.address }] } }, routes: [{ name: 'r', match: { host: 'svc' }, to: [{ upstream: 'u' }], retries: { attempts: 1, retryOn: ['5xx'], backoff: { base: '1ms', max: '2ms' } } }] },
    });
    cleanup.push(() => mesh.close());

    const app = trace.getTracer('app');
    const parent = await app.startActiveSpan('checkout', async (span) => {
      const r = await mesh.fetch('http://svc/pay');
      await r.arrayBuffer();
      expect(r.status).toBe(200);
      span.end();
      return span.spanContext();
    });
    await provider.forceFlush();
    const spans = await collector.waitFor(() => { const s = collector.spans(); return s.length >= 3 ? s : undefined; });
    const clients = spans.filter((s) => s.kind === 3).sort((a, b) => Number(a.attributes['pilotfish.attempt']) - Number(b.attributes['pilotfish.attempt']));
    expect(clients).toHaveLength(2);
    for (const c of clients) {
      expect(c.traceId).toBe(parent.traceId);
      expect(c.parentSpanId).toBe(parent.spanId);
      expect(c.attributes['pilotfish.upstream']).toBe('u');
    }
    expect(clients.map((c) => c.attributes['http.response.status_code'])).toEqual([503, 200]);
    expect(spans.filter((s) => s.kind === 2)).toHaveLength(0); // no SERVER span: the call is the application's
    expect(u.seen.map((s) => s.headers.traceparent)).toEqual(clients.map((c) => `00-${parent.traceId}-${c.spanId}-01`));
  });
});
