/**
 * Library mode's tracing before (and without) an application SDK: the mesh skips the span work when
 * no SDK is registered and no trace is active, and must still behave as the OpenTelemetry API does —
 * no `traceparent` when there is no trace; the application's active trace context propagated upstream
 * (the API's no-op tracer carries it) even without an SDK; an SDK registered after the mesh was made
 * is used from the next call on.
 */
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../src/index.js';
import { TEST_ENGINE } from '../helpers/sidecar.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterAll(async () => { for (const fn of cleanup.splice(0).reverse()) await fn(); });

describe('library mode tracing without an SDK', () => {
  let u: Upstream;
  let mesh: Mesh;
  const call = async (path: string): Promise<string | undefined> => {
    const r = await mesh.fetch(`http://svc${path}`);
    await r.arrayBuffer();
    expect(r.status).toBe(200);
    return u.seen.find((s) => s.url === path)?.headers.traceparent as string | undefined;
  };

  it('sends no traceparent without a trace, propagates the app\'s active context, and uses an SDK registered later', async () => {
    u = await startUpstream();
    cleanup.push(() => u.close());
    mesh = await createMesh({ engine: TEST_ENGINE, policy: { version: 1, upstreams: { u: { endpoints: [{ address: u.address }] } }, routes: [{ name: 'r', match: { host: 'svc' }, to: [{ upstream: 'u' }] }] } });
    cleanup.push(() => mesh.close());

    // No SDK, no context manager, no trace: nothing to propagate.
    expect(await call('/none')).toBeUndefined();

    // No SDK, but the application continues a trace (a context manager and an active span context).
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    cleanup.push(() => { context.disable(); });
    const held = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED };
    const sent = await context.with(trace.setSpanContext(context.active(), held), () => call('/held'));
    expect(sent).toBe(`00-${held.traceId}-${held.spanId}-01`);
    // Outside that context: none again.
    expect(await call('/outside')).toBeUndefined();

    // An SDK registered now (after createMesh): the next call makes a CLIENT span and sends its id.
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    trace.setGlobalTracerProvider(provider);
    cleanup.push(() => { trace.disable(); return provider.shutdown(); });
    const later = await call('/later');
    await provider.forceFlush();
    const clients = exporter.getFinishedSpans().filter((s) => s.kind === 2 /* CLIENT */);
    expect(clients).toHaveLength(1);
    expect(later).toBe(`00-${clients[0]!.spanContext().traceId}-${clients[0]!.spanContext().spanId}-01`);
  });
});
