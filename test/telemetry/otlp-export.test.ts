/**
 * The span exporter's own thread (src/telemetry/otlp-export.ts) against a real collector over
 * loopback: batches arrive as OpenTelemetry's exporter sends them (its serializers, its transport,
 * the environment's `OTEL_EXPORTER_OTLP_HEADERS`), a 503 is retried by its delegate in the worker and
 * a 400 is not, the thread starts with the first export, and a thread that dies fails what it held
 * and is replaced by the next export.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { RecordedSpan } from '../../src/telemetry/otel-tracing.js';
import { randomHex } from '../../src/telemetry/head-sampling.js';
import { createSpanExporter, WorkerSpanExporter } from '../../src/telemetry/otlp-export.js';
import { FakeCollector } from './fake-otlp-collector.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const RESOURCE = defaultResource().merge(resourceFromAttributes({ 'service.name': 'export-test' }));

function spans(n: number, name = 'GET'): ReadableSpan[] {
  return Array.from({ length: n }, () => {
    const span = new RecordedSpan(RESOURCE, name, SpanKind.SERVER, randomHex(4), undefined, { 'http.request.method': 'GET' });
    span.finish();
    return span as unknown as ReadableSpan;
  });
}

async function setup(protocol: 'http/json' | 'http/protobuf' = 'http/json') {
  const collector = await FakeCollector.start();
  const warnings: string[] = [];
  const exporter = new WorkerSpanExporter(`${collector.url}/v1/traces`, protocol, (m) => warnings.push(m));
  cleanup.push(() => collector.close());
  cleanup.push(() => exporter.shutdown());
  return { collector, exporter, warnings };
}

const send = (exporter: WorkerSpanExporter, batch: ReadableSpan[]): Promise<ExportResult> =>
  new Promise((resolve) => exporter.export(batch, resolve));

describe('the span export thread', () => {
  it('starts with the first export and delivers each batch, JSON and protobuf', async () => {
    const { collector, exporter } = await setup();
    expect(exporter.running).toBe(false);
    const r = await send(exporter, spans(3, 'POST'));
    expect(r.code).toBe(ExportResultCode.SUCCESS);
    expect(exporter.running).toBe(true);
    const got = collector.spans();
    expect(got).toHaveLength(3);
    expect(got.every((s) => s.name === 'POST' && s.resource['service.name'] === 'export-test')).toBe(true);
    expect(collector.requests[0]!.path).toBe('/v1/traces');

    const proto = await setup('http/protobuf');
    expect((await send(proto.exporter, spans(2))).code).toBe(ExportResultCode.SUCCESS);
    expect(proto.collector.requests).toHaveLength(1);
    expect(proto.collector.requests[0]!.contentType).toBe('application/x-protobuf');
    expect(proto.collector.requests[0]!.body.length).toBeGreaterThan(50);
  });

  it("sends the environment's OTLP headers, read by the exporter's own configuration in the thread", async () => {
    const before = process.env.OTEL_EXPORTER_OTLP_HEADERS;
    process.env.OTEL_EXPORTER_OTLP_HEADERS = 'x-tenant=acme,authorization=Bearer%20t0k3n';
    cleanup.push(() => { if (before === undefined) delete process.env.OTEL_EXPORTER_OTLP_HEADERS; else process.env.OTEL_EXPORTER_OTLP_HEADERS = before; });
    const { collector, exporter } = await setup();
    expect((await send(exporter, spans(1))).code).toBe(ExportResultCode.SUCCESS);
    expect(collector.requests[0]!.headers['x-tenant']).toBe('acme');
    expect(collector.requests[0]!.headers.authorization).toBe('Bearer t0k3n');
  });

  it('a 503 is retried (the same batch again) and a 400 fails at once', async () => {
    const { collector, exporter } = await setup();
    collector.answerNext(503);
    const retried = await send(exporter, spans(2));
    expect(retried.code).toBe(ExportResultCode.SUCCESS);
    expect(collector.requests.map((r) => r.status)).toEqual([503, 200]);
    expect(collector.requests[1]!.body.equals(collector.requests[0]!.body)).toBe(true);

    collector.answerNext(400);
    const refused = await send(exporter, spans(1));
    expect(refused.code).toBe(ExportResultCode.FAILED);
    expect(collector.requests.map((r) => r.status)).toEqual([503, 200, 400]);
  });

  it('a thread that dies fails the exports it held, and the next export starts another', async () => {
    const { collector, exporter } = await setup();
    expect((await send(exporter, spans(1))).code).toBe(ExportResultCode.SUCCESS);
    const release = collector.hold();
    const held = send(exporter, spans(1));
    await collector.waitFor(() => (collector.requests.length === 2 ? true : undefined));
    await (exporter as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    const r = await held;
    expect(r.code).toBe(ExportResultCode.FAILED);
    expect(exporter.running).toBe(false);
    release();
    expect((await send(exporter, spans(4))).code).toBe(ExportResultCode.SUCCESS);
    expect(exporter.running).toBe(true);
    expect(collector.spans().length).toBeGreaterThanOrEqual(5);
  });

  it('PILOTFISH_TRACE_EXPORT_THREAD=main: the same delegate in this thread, the same requests, no thread', async () => {
    const collector = await FakeCollector.start();
    cleanup.push(() => collector.close());
    const exporter = await createSpanExporter(`${collector.url}/v1/traces`, 'http/json', 'main', () => {});
    cleanup.push(() => exporter.shutdown());
    expect(exporter).not.toBeInstanceOf(WorkerSpanExporter);
    collector.answerNext(503);
    const r = await new Promise<ExportResult>((resolve) => exporter.export(spans(2, 'PUT'), resolve));
    expect(r.code).toBe(ExportResultCode.SUCCESS);
    expect(collector.requests.map((x) => x.status)).toEqual([503, 200]);
    expect(collector.spans().filter((x) => x.name === 'PUT')).toHaveLength(4); // the batch, sent twice
  });

  it('forceFlush waits for what was handed over; shutdown ends the thread', async () => {
    const { collector, exporter } = await setup();
    const release = collector.hold();
    let done = false;
    exporter.export(spans(2), () => { done = true; });
    const flushed = exporter.forceFlush().then(() => done);
    await collector.waitFor(() => (collector.requests.length === 1 ? true : undefined));
    release();
    expect(await flushed).toBe(true);
    await exporter.shutdown();
    expect(exporter.running).toBe(false);
  });
});
