/**
 * Reads the standard OpenTelemetry environment variables into a trace-only configuration, or decides
 * tracing is off. Pure (the environment is a parameter) so tests need not touch `process.env`.
 *
 * Off unless an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, used as is, or
 * `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`): a sidecar in every pod must not start sending spans
 * to `localhost:4318` just because nobody configured it, as the SDK's own default would. Also off
 * with `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. Exporter headers, timeout,
 * compression and TLS files (`OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`, `…_TIMEOUT`, `…_COMPRESSION`,
 * `…_CERTIFICATE`, …) are read from `process.env` by the OTLP exporter itself.
 */

export type OtlpProtocol = 'http/protobuf' | 'http/json';

/**
 * Where spans are sent from (`PILOTFISH_TRACE_EXPORT_THREAD`): a thread of their own (`worker`, the
 * default: the exporter's node:http client then never deoptimizes the request path's code) or the
 * main thread (`main`: ~10–17 MiB less RSS with tracing on, for some CPU per request). otlp-export.ts.
 */
export type ExportThread = 'worker' | 'main';

export interface SamplerConfig {
  readonly root: 'always_on' | 'always_off' | 'traceidratio';
  /** Fraction of root traces kept by `traceidratio`, 0–1. */
  readonly ratio: number;
  /** Follow the caller's sampled flag when there is one (the `parentbased_*` samplers). */
  readonly parentBased: boolean;
}

/** `OTEL_BSP_*`; an absent field keeps the SDK default. */
export interface BatchConfig {
  /** Delay between two exports, ms (`OTEL_BSP_SCHEDULE_DELAY`, default 5000). */
  readonly scheduledDelayMillis?: number;
  /** Export timeout, ms (`OTEL_BSP_EXPORT_TIMEOUT`, default 30000). */
  readonly exportTimeoutMillis?: number;
  /** Spans buffered before new ones are dropped (`OTEL_BSP_MAX_QUEUE_SIZE`, default 2048). */
  readonly maxQueueSize?: number;
  /** Spans per export (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default 512). */
  readonly maxExportBatchSize?: number;
}

export interface TracingConfig {
  readonly url: string;
  readonly protocol: OtlpProtocol;
  readonly serviceName: string;
  /** `OTEL_RESOURCE_ATTRIBUTES`, with `service.name` resolved into `serviceName`. */
  readonly resourceAttributes: Readonly<Record<string, string>>;
  readonly sampler: SamplerConfig;
  readonly batch: BatchConfig;
  readonly exportThread: ExportThread;
}

export interface ResolvedTracing {
  /** Undefined: tracing is off. */
  readonly config: TracingConfig | undefined;
  /** Why tracing is off, for the startup log. */
  readonly reason: string;
  /** Values that were ignored or replaced by a default. */
  readonly warnings: readonly string[];
}

export type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_SERVICE_NAME = 'pilotfish';

export function tracingConfigFromEnv(env: Env): ResolvedTracing {
  const warnings: string[] = [];
  const get = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  const off = (reason: string): ResolvedTracing => ({ config: undefined, reason, warnings });

  if (get('OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return off('OTEL_SDK_DISABLED=true');
  const exporters = (get('OTEL_TRACES_EXPORTER') ?? 'otlp').split(',').map((s) => s.trim().toLowerCase());
  if (exporters.includes('none')) return off('OTEL_TRACES_EXPORTER=none');
  if (!exporters.includes('otlp')) return off(`OTEL_TRACES_EXPORTER=${exporters.join(',')}: only otlp is supported`);

  const url = endpoint(get('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'), get('OTEL_EXPORTER_OTLP_ENDPOINT'), warnings);
  if (!url) return off('no OTLP endpoint configured (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)');

  const protocolVar = get('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? get('OTEL_EXPORTER_OTLP_PROTOCOL') ?? 'http/protobuf';
  if (protocolVar !== 'http/protobuf' && protocolVar !== 'http/json') {
    // grpc would need @grpc/grpc-js; sending http/protobuf to a gRPC port instead would fail anyway.
    return off(`OTLP protocol "${protocolVar}" is not supported (use http/protobuf or http/json)`);
  }

  const resourceAttributes = keyValueList(get('OTEL_RESOURCE_ATTRIBUTES'), warnings);
  const serviceName = get('OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'] ?? DEFAULT_SERVICE_NAME;
  return {
    config: {
      url, protocol: protocolVar, serviceName, resourceAttributes,
      sampler: sampler(get('OTEL_TRACES_SAMPLER'), get('OTEL_TRACES_SAMPLER_ARG'), warnings),
      batch: batch(get, warnings),
      exportThread: exportThread(get('PILOTFISH_TRACE_EXPORT_THREAD'), warnings),
    },
    reason: '',
    warnings,
  };
}

function exportThread(value: string | undefined, warnings: string[]): ExportThread {
  if (value === undefined || value === 'worker') return 'worker';
  if (value === 'main') return 'main';
  warnings.push(`PILOTFISH_TRACE_EXPORT_THREAD="${value}" is neither worker nor main; using worker`);
  return 'worker';
}

function endpoint(traces: string | undefined, base: string | undefined, warnings: string[]): string | undefined {
  const valid = (url: string, name: string): string | undefined => {
    try {
      return new URL(url).href;
    } catch {
      warnings.push(`${name}="${url}" is not a URL; ignored`);
      return undefined;
    }
  };
  if (traces) return valid(traces, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (base) return valid(`${base.replace(/\/+$/, '')}/v1/traces`, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  return undefined;
}

const SAMPLERS: Record<string, Omit<SamplerConfig, 'ratio'>> = {
  always_on: { root: 'always_on', parentBased: false },
  always_off: { root: 'always_off', parentBased: false },
  traceidratio: { root: 'traceidratio', parentBased: false },
  parentbased_always_on: { root: 'always_on', parentBased: true },
  parentbased_always_off: { root: 'always_off', parentBased: true },
  parentbased_traceidratio: { root: 'traceidratio', parentBased: true },
};

function sampler(name: string | undefined, arg: string | undefined, warnings: string[]): SamplerConfig {
  let kind = SAMPLERS[name ?? 'parentbased_always_on'];
  if (!kind) {
    warnings.push(`OTEL_TRACES_SAMPLER="${name}" is unknown; using parentbased_always_on`);
    kind = SAMPLERS.parentbased_always_on!;
  }
  let ratio = 1;
  if (kind.root === 'traceidratio' && arg !== undefined) {
    const n = Number(arg);
    if (Number.isFinite(n) && n >= 0 && n <= 1) ratio = n;
    else warnings.push(`OTEL_TRACES_SAMPLER_ARG="${arg}" is not a ratio in [0, 1]; using 1`);
  }
  return { ...kind, ratio };
}

function batch(get: (name: string) => string | undefined, warnings: string[]): BatchConfig {
  const out: Record<string, number> = {};
  const fields: [string, keyof BatchConfig][] = [
    ['OTEL_BSP_SCHEDULE_DELAY', 'scheduledDelayMillis'],
    ['OTEL_BSP_EXPORT_TIMEOUT', 'exportTimeoutMillis'],
    ['OTEL_BSP_MAX_QUEUE_SIZE', 'maxQueueSize'],
    ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'maxExportBatchSize'],
  ];
  for (const [name, field] of fields) {
    const raw = get(name);
    if (raw === undefined) continue;
    const n = Number(raw);
    if (Number.isInteger(n) && n > 0) out[field] = n;
    else warnings.push(`${name}="${raw}" is not a positive integer; using the default`);
  }
  return out;
}

/** `k1=v1,k2=v2` with percent-encoded values (the W3C Baggage octet rules the OTel spec uses). */
function keyValueList(raw: string | undefined, warnings: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const item of raw.split(',')) {
    const eq = item.indexOf('=');
    const key = eq > 0 ? item.slice(0, eq).trim() : '';
    if (!key) {
      if (item.trim()) warnings.push(`OTEL_RESOURCE_ATTRIBUTES entry "${item.trim()}" is not key=value; ignored`);
      continue;
    }
    try {
      out[key] = decodeURIComponent(item.slice(eq + 1).trim());
    } catch {
      warnings.push(`OTEL_RESOURCE_ATTRIBUTES value of "${key}" is not percent-encoded correctly; ignored`);
    }
  }
  return out;
}
