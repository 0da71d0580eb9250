/**
 * Telemetry (SPEC §6): Prometheus metrics, OpenTelemetry traces, the access log, and the 15020
 * listener that serves `/metrics` beside the health probes. Nothing else in the proxy imports
 * prom-client, the OpenTelemetry exporter or the access-log pino instance directly.
 */
export { createHealthServer, type HealthState, type ExtraRoute } from './health-server.js';
export {
  Metrics, DURATION_BUCKETS,
  type MetricsOptions, type RequestLabels, type AttemptOutcome, type FaultType, type MirrorOutcome, type ReloadResult,
  type BreakerStateCode, type PendingSource, type KnownNames,
} from './metrics.js';
export type { RequestSeries } from './request-series.js';
export { metricsRoute } from './metrics-route.js';
export {
  createTracing, NOOP_TRACING,
  type Tracing, type TracingOptions, type TracingLog, type ServerSpan, type ServerSpanStart, type ServerSpanEnd,
  type ClientSpan, type ClientSpanStart, type HeaderCarrier, type SpanAttributeMap,
} from './tracing.js';
export { tracingConfigFromEnv, type TracingConfig, type ResolvedTracing, type OtlpProtocol } from './tracing-config.js';
export { AccessLog, type AccessLogOptions, type AccessContext } from './access-log.js';
export { Telemetry, type TelemetryOptions } from './telemetry.js';
