/**
 * The span export thread (otlp-export.ts): serialized batches in, each batch's outcome out, sent by
 * OpenTelemetry's OTLP/HTTP export delegate (`createByteSender`) — its node:http transport, retries,
 * and everything it reads from the environment (`OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`, `…_TIMEOUT`,
 * `…_COMPRESSION`, `…_CERTIFICATE`, …), exactly as its `OTLPTraceExporter` (which is that delegate
 * with a serializer of spans). The thread's diagnostics (warn and above) go back to the main thread's
 * log. With `PILOTFISH_TRACE_EXPORT_THREAD=main` the main thread uses `createByteSender` itself.
 * One file with no relative imports and type annotations only (no enums): the thread runs it from
 * src/ in tests, where Node strips the types itself.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { createRequire } from 'node:module';
import type { IOtlpExportDelegate } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';

export interface Serialized {
  readonly bytes: Uint8Array;
  /** Spans in it, for the delegate's own counts. */
  readonly spans: number;
}

export type OtlpHttpProtocol = 'http/protobuf' | 'http/json';

export function createByteSender(url: string, protocol: OtlpHttpProtocol): IOtlpExportDelegate<Serialized> {
  const json = protocol === 'http/json';
  /**
   * A collector's answer, as the exporter decodes it (a partial success names the spans it
   * rejected). A full success is an empty protobuf message or `{}`: OpenTelemetry's serializers
   * (protobufjs; ~10 MiB in the export thread's own heap) are loaded only for an answer with more.
   */
  const deserializeResponse = (data: Uint8Array): unknown => {
    if (data.length === 0 || (json && data.length === 2 && data[0] === 0x7b && data[1] === 0x7d)) return {};
    const { JsonTraceSerializer, ProtobufTraceSerializer } = createRequire(import.meta.url)('@opentelemetry/otlp-transformer') as typeof import('@opentelemetry/otlp-transformer');
    return (json ? JsonTraceSerializer : ProtobufTraceSerializer).deserializeResponse(data);
  };
  return createOtlpHttpExportDelegate<Serialized, unknown>(
    convertLegacyHttpOptions({ url }, 'TRACES', 'v1/traces', { 'Content-Type': json ? 'application/json' : 'application/x-protobuf' }),
    { serializeRequest: (r) => r.bytes, deserializeResponse },
    'otlp_http_span_exporter',
    { name: 'span', countItems: (r) => r.spans },
    undefined,
  );
}

/** What the main thread sends: a serialized batch, or the end. */
export type ToWorker = { kind: 'export'; id: number; bytes: Uint8Array; spans: number } | { kind: 'shutdown' };
/** What it answers: a batch's outcome, a diagnostic, or that the delegate is shut down. */
export type FromWorker =
  | { kind: 'result'; id: number; ok: boolean; error?: string }
  | { kind: 'diag'; message: string }
  | { kind: 'shutdown' };

export interface ExportWorkerData {
  readonly pilotfishSpanExport: true;
  readonly url: string;
  readonly protocol: OtlpHttpProtocol;
}

/** The thread's loop: only in the thread otlp-export.ts starts (its `workerData` says so). */
function serve(): void {
  const port = parentPort!;
  const { url, protocol } = workerData as ExportWorkerData;
  const post = (m: FromWorker): void => port.postMessage(m);
  const forward = (message: string, ...args: unknown[]): void => post({ kind: 'diag', message: [message, ...args.map(String)].join(' ') });
  diag.setLogger({ error: forward, warn: forward, info() {}, debug() {}, verbose() {} }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  const delegate = createByteSender(url, protocol);
  port.on('message', (m: ToWorker) => {
    if (m.kind === 'export') {
      delegate.export({ bytes: m.bytes, spans: m.spans }, (result) => {
        post({ kind: 'result', id: m.id, ok: result.code === 0, ...(result.error ? { error: result.error.message } : {}) });
      });
    } else {
      void delegate.shutdown().finally(() => post({ kind: 'shutdown' }));
    }
  });
}

if (!isMainThread && (workerData as Partial<ExportWorkerData> | null)?.pilotfishSpanExport === true) serve();
