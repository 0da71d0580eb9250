/**
 * prom-client, by its modules: the registry, the three metric types and Node's process metrics.
 * Its index also loads the Pushgateway (https, tls, zlib), the cluster aggregator and, through the
 * process CPU collector's exemplars, the OpenTelemetry API — ~15 MB of RSS a sidecar never uses
 * (Node 24.21, prom-client 15.1.3, measured: the index 62.5 MB, these modules 47 MB). The classes are
 * the very ones the index exports (one module instance), so a `Registry` made here merges with an
 * application's. The version is pinned; the module paths are part of what the pin fixes.
 */
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

const require = createRequire(import.meta.url);

export const Registry: typeof Prom.Registry = require('prom-client/lib/registry');
export const Counter: typeof Prom.Counter = require('prom-client/lib/counter');
export const Gauge: typeof Prom.Gauge = require('prom-client/lib/gauge');
export const Histogram: typeof Prom.Histogram = require('prom-client/lib/histogram');

/**
 * prom-client's default collectors, but two. The CPU one needs the OpenTelemetry API (ours is below,
 * same names). The GC one (`nodejs_gc_duration_seconds`) runs a PerformanceObserver callback, a
 * deprecated-getter read and a labelled histogram observation on every collection: with the bounded
 * young generation (cli/v8-flags.ts) scavenges are frequent, and under load it took ~1% of the
 * sidecar's CPU in profiles, for a figure the heap and event-loop-lag gauges already tell.
 */
const COLLECTORS = [
  'processStartTime', 'osMemoryHeap', 'processOpenFileDescriptors', 'processMaxFileDescriptors', 'eventLoopLag',
  'processResources', 'processHandles', 'processRequests', 'heapSizeAndUsed', 'heapSpacesSizeAndUsed', 'version',
] as const;

type Collector = (registry: Prom.Registry, config: { eventLoopMonitoringPrecision: number }) => void;

/**
 * The event-loop-delay monitor's timer period, ms. prom-client's 10 ms wakes an idle sidecar 100
 * times a second, about half of its idle CPU (measured: 270 ms of main-thread CPU over 20 s idle,
 * 120 ms with a 1 s period). At 100 ms a stall of 100 ms or more — the kind a p99 feels — always
 * covers a due tick and is recorded; shorter ones are sampled.
 */
const EVENT_LOOP_PRECISION_MS = 100;

/** Node's process metrics under prom-client's default names (`process_*`, `nodejs_*`). */
export function collectProcessMetrics(registry: Prom.Registry): void {
  for (const name of COLLECTORS) (require(`prom-client/lib/metrics/${name}`) as Collector)(registry, { eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS });
  processCpu(registry);
}

/** `process_cpu_{user,system}_seconds_total` and `process_cpu_seconds_total`, as prom-client names them. */
function processCpu(registry: Prom.Registry): void {
  let last = process.cpuUsage();
  const system = new Counter({ name: 'process_cpu_system_seconds_total', help: 'Total system CPU time spent in seconds.', registers: [registry] });
  const total = new Counter({ name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.', registers: [registry] });
  new Counter({
    name: 'process_cpu_user_seconds_total', help: 'Total user CPU time spent in seconds.', registers: [registry],
    // This counter's collect sets all three, so they agree within one scrape.
    collect() {
      const now = process.cpuUsage();
      const user = now.user - last.user;
      const sys = now.system - last.system;
      last = now;
      this.inc(user / 1e6);
      system.inc(sys / 1e6);
      total.inc((user + sys) / 1e6);
    },
  });
}
