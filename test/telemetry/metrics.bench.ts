/**
 * Per-request metric cost: `Metrics.requestEnd` (cached series, plain accumulators) against
 * prom-client's own path, even with its `labels()` children cached (they still validate and hash the
 * label set on every call). Run: `npx vitest bench --run test/telemetry/metrics.bench.ts`.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { test } from 'vitest';
import { DURATION_BUCKETS, Metrics, type RequestLabels } from '../../src/telemetry/index.js';

const ROUTES = ['reviews', 'ratings', 'details', 'productpage'];
const contexts: RequestLabels[] = ROUTES.map((route) => ({ direction: 'outbound', route, upstream: route, subset: 'v1', flags: [] }));

const metrics = new Metrics({ processMetrics: false });

const registry = new Registry();
const counter = new Counter({ name: 'c_total', help: 'h', labelNames: ['direction', 'route', 'upstream', 'subset', 'code', 'flags'], registers: [registry] });
const histogram = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['direction', 'route', 'upstream', 'subset'], buckets: [...DURATION_BUCKETS], registers: [registry] });
const children = contexts.map((c) => ({
  count: counter.labels(c.direction, c.route, c.upstream, c.subset, '200', ''),
  time: histogram.labels(c.direction, c.route, c.upstream, c.subset),
}));

let i = 0;
test('one request: count + duration', async ({ bench }) => {
  await bench.compare(
    bench('Metrics.requestEnd (label tree + cells)', () => {
      metrics.requestEnd(contexts[i++ & 3]!, 200, 0.0042);
    }),
    bench('prom-client, cached labels() children', () => {
      const c = children[i++ & 3]!;
      c.count.inc();
      c.time.observe(0.0042);
    }),
    bench('prom-client, label objects per call', () => {
      const c = contexts[i++ & 3]!;
      counter.inc({ direction: c.direction, route: c.route, upstream: c.upstream, subset: c.subset, code: '200', flags: '' });
      histogram.observe({ direction: c.direction, route: c.route, upstream: c.upstream, subset: c.subset }, 0.0042);
    }),
  );
});
