/**
 * A fake OTLP/HTTP collector on 127.0.0.1:0: accepts `POST /v1/traces` in http/json or
 * http/protobuf, keeps every request, and decodes the JSON ones into flat spans for assertions.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface ExportRequest {
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
  readonly headers: http.IncomingHttpHeaders;
  /** The status it was answered with. */
  readonly status: number;
}

type AnyValue = { stringValue?: string; intValue?: number | string; boolValue?: boolean; doubleValue?: number };

export interface CollectedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  status: { code?: number; message?: string };
  attributes: Record<string, string | number | boolean>;
  resource: Record<string, string | number | boolean>;
}

export class FakeCollector {
  readonly requests: ExportRequest[] = [];
  /** While set (`hold`), exports are received and kept but not answered. */
  private gate: Promise<void> | undefined;
  /** Statuses for the next exports, in turn (`answerNext`); 200 once they are used up. */
  private readonly statuses: number[] = [];

  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<FakeCollector> {
    const server = http.createServer();
    const collector = new FakeCollector(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const contentType = req.headers['content-type'] ?? '';
        const status = collector.statuses.shift() ?? 200;
        collector.requests.push({ path: req.url ?? '', contentType, body: Buffer.concat(chunks), headers: req.headers, status });
        // An empty ExportTraceServiceResponse: `{}` in JSON, zero bytes in protobuf.
        const json = contentType.startsWith('application/json');
        const answer = (): void => {
          res.writeHead(status, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
          res.end(json ? '{}' : undefined);
        };
        if (collector.gate) void collector.gate.then(answer);
        else answer();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return collector;
  }

  /** Exports are kept but not answered (a slow collector) until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    this.gate = new Promise<void>((resolve) => { release = resolve; });
    return () => { this.gate = undefined; release(); };
  }

  /** The next exports are answered with these statuses, one each, in turn. */
  answerNext(...statuses: number[]): void {
    this.statuses.push(...statuses);
  }

  /** `http://127.0.0.1:port`, the value for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Every span of every JSON export so far. */
  spans(): CollectedSpan[] {
    const out: CollectedSpan[] = [];
    for (const r of this.requests) {
      if (!r.contentType.startsWith('application/json')) continue;
      const doc = JSON.parse(r.body.toString('utf8')) as {
        resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: RawSpan[] }[] }[];
      };
      for (const rs of doc.resourceSpans ?? []) {
        const resource = flatten(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            out.push({
              traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name, kind: s.kind,
              status: s.status ?? {}, attributes: flatten(s.attributes), resource,
            });
          }
        }
      }
    }
    return out;
  }

  /** Polls until `pred` holds, with a deadline (never a fixed sleep). */
  async waitFor<T>(probe: () => T | undefined, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error('timed out waiting for the collector');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

interface KeyValue { key: string; value: AnyValue }
interface RawSpan {
  traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number;
  status?: { code?: number; message?: string }; attributes?: KeyValue[];
}

function flatten(kvs: KeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of kvs ?? []) {
    if (value.stringValue !== undefined) out[key] = value.stringValue;
    else if (value.intValue !== undefined) out[key] = Number(value.intValue);
    else if (value.boolValue !== undefined) out[key] = value.boolValue;
    else if (value.doubleValue !== undefined) out[key] = value.doubleValue;
  }
  return out;
}
