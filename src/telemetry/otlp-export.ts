/**
 * The span exporter: OTLP/HTTP, sent from a thread of its own. The main thread serializes a batch
 * (OpenTelemetry's protobuf or JSON serializer) and hands the bytes to otlp-export-worker.ts, which
 * sends them with OpenTelemetry's own export delegate — the same transport, retries and environment
 * (`OTEL_EXPORTER_OTLP_*`) as its `OTLPTraceExporter` in the main thread.
 *
 * Why a thread: the exporter's request is a node:http `ClientRequest` with a piped `Readable`, and
 * its answer an `IncomingMessage`, so every export ran the sidecar's hottest functions (node:http's
 * `OutgoingMessage`, the stream machinery, the socket writes) on objects they had never seen in the
 * request path, and V8 deoptimized them — 175 bailouts in 4 s at 1% sampling against 44 with
 * tracing off, most of them in node:http and node:stream. A CPU-time A/B (bench/telemetry.mjs) put
 * the exports at ~5 points of the 1%-sampling overhead (1.08× against 1.03× with the same batches
 * serialized and not sent). A worker has its own V8 isolate, so its code's feedback is its own.
 * Sending through undici instead (the sidecar's engine, in the main thread) left it at 1.06×: its
 * request shapes deoptimized the engine's undici code the same way.
 *
 * The price is memory: the thread's isolate and the delegate's modules, ~10–17 MiB of RSS after a
 * load (docs/benchmarks.md, "The export off the main thread"). `PILOTFISH_TRACE_EXPORT_THREAD=main`
 * sends from the main thread instead, with the same delegate, for a pod that needs the memory more.
 *
 * The worker starts on the first export (a sidecar that samples nothing never starts it) and does
 * not hold the process open. If it fails, its pending exports fail, and the next export starts
 * another.
 */
import { Worker } from 'node:worker_threads';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { IOtlpExportDelegate } from '@opentelemetry/otlp-exporter-base';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { ExportWorkerData, FromWorker, Serialized, ToWorker } from './otlp-export-worker.js';
import type { ExportThread, OtlpProtocol } from './tracing-config.js';

/**
 * The worker's file: dist/telemetry/ for the library and for the bundle's chunks (one level under
 * dist/), src/telemetry/ in tests.
 */
const WORKER = new URL(`../telemetry/otlp-export-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);

type Serializer = typeof ProtobufTraceSerializer | typeof JsonTraceSerializer;

/** A batch as the collector gets it, or why it cannot be. */
function serialize(serializer: Serializer, spans: ReadableSpan[]): Uint8Array | Error {
  try {
    return serializer.serializeRequest(spans) ?? new Error('Nothing to send');
  } catch (err) {
    return err as Error;
  }
}

const serializerOf = (protocol: OtlpProtocol): Serializer => (protocol === 'http/json' ? JsonTraceSerializer : ProtobufTraceSerializer);

export class WorkerSpanExporter implements SpanExporter {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, (result: ExportResult) => void>();
  private shutdownDone: (() => void) | undefined;
  private readonly flushes: Array<() => void> = [];
  private readonly serializer: Serializer;
  private readonly data: ExportWorkerData;

  constructor(url: string, protocol: OtlpProtocol, private readonly warn: (message: string) => void) {
    this.data = { pilotfishSpanExport: true, url, protocol };
    this.serializer = serializerOf(protocol);
  }

  /** Whether the export thread is running (it starts on the first export). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const bytes = serialize(this.serializer, spans);
    if (bytes instanceof Error) { resultCallback({ code: ExportResultCode.FAILED, error: bytes }); return; }
    const id = this.nextId++;
    this.pending.set(id, resultCallback);
    // The bytes move to the worker rather than being copied, when they fill their buffer.
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
    const message: ToWorker = { kind: 'export', id, bytes, spans: spans.length };
    this.thread().postMessage(message, whole ? [bytes.buffer as ArrayBuffer] : []);
  }

  /** Resolves once every export handed to the worker so far has been answered. */
  forceFlush(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.flushes.push(resolve));
  }

  /** Lets the worker finish what it was given (its delegate's own shutdown), then ends it. */
  async shutdown(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined) return;
    await new Promise<void>((resolve) => {
      this.shutdownDone = resolve;
      worker.postMessage({ kind: 'shutdown' } satisfies ToWorker);
    });
    this.shutdownDone = undefined;
    this.worker = undefined;
    await worker.terminate();
  }

  private flushed(): void {
    if (this.pending.size > 0) return;
    for (const resolve of this.flushes.splice(0)) resolve();
  }

  private thread(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(WORKER, { workerData: this.data, stdout: false, stderr: false });
    worker.unref();
    worker.on('message', (m: FromWorker) => {
      if (m.kind === 'result') {
        const done = this.pending.get(m.id);
        this.pending.delete(m.id);
        done?.(m.ok ? { code: ExportResultCode.SUCCESS } : { code: ExportResultCode.FAILED, error: new Error(m.error ?? 'span export failed') });
        this.flushed();
      } else if (m.kind === 'diag') {
        this.warn(m.message);
      } else {
        this.shutdownDone?.();
      }
    });
    const failed = (err: Error): void => {
      if (this.worker === worker) this.worker = undefined;
      for (const done of this.pending.values()) done({ code: ExportResultCode.FAILED, error: err });
      this.pending.clear();
      this.flushed();
      this.shutdownDone?.();
    };
    worker.on('error', (err) => failed(err));
    worker.on('exit', (code) => failed(new Error(`the span export thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}

/** The same delegate in the main thread (`PILOTFISH_TRACE_EXPORT_THREAD=main`). */
class InlineSpanExporter implements SpanExporter {
  private readonly serializer: Serializer;

  constructor(private readonly delegate: IOtlpExportDelegate<Serialized>, protocol: OtlpProtocol) {
    this.serializer = serializerOf(protocol);
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const bytes = serialize(this.serializer, spans);
    if (bytes instanceof Error) { resultCallback({ code: ExportResultCode.FAILED, error: bytes }); return; }
    this.delegate.export({ bytes, spans: spans.length }, resultCallback);
  }

  forceFlush(): Promise<void> { return this.delegate.forceFlush(); }
  shutdown(): Promise<void> { return this.delegate.shutdown(); }
}

/** The exporter for `protocol` to `url`, sending from `thread`. */
export async function createSpanExporter(url: string, protocol: OtlpProtocol, thread: ExportThread, warn: (message: string) => void): Promise<SpanExporter> {
  if (thread === 'worker') return new WorkerSpanExporter(url, protocol, warn);
  const { createByteSender } = await import('./otlp-export-worker.js');
  return new InlineSpanExporter(createByteSender(url, protocol), protocol);
}
