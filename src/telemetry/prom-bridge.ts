/**
 * Publishes our accumulator cells (cells.ts) through prom-client at scrape time. prom-client keeps
 * the registry, the exposition format, `collectDefaultMetrics` and `registry.getSingleMetric(…).get()`;
 * the request path only ever touches the cells. Counters and gauges use prom-client's public API in a
 * `collect` hook (reset, then replay each cell: O(series) per scrape, zero per request). A histogram
 * cannot be replayed that way (it only takes single observations), so `CellHistogram` overrides the
 * two read methods and reports the cells' buckets directly.
 */
import type { Counter as CounterT, Gauge as GaugeT, Histogram as HistogramT, Registry } from 'prom-client';
import { Counter, Gauge, Histogram } from './prom.js';
import type { CounterCell, GaugeCell, HistogramCell } from './cells.js';

export interface BridgeSpec<C> {
  readonly registry: Registry;
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  /** The cells to publish, read on every scrape. */
  readonly cells: () => Iterable<C>;
}

export function cellCounter(spec: BridgeSpec<CounterCell>): CounterT {
  const { cells } = spec;
  return new Counter({
    name: spec.name, help: spec.help, labelNames: spec.labelNames, registers: [spec.registry],
    collect() {
      this.reset();
      for (const cell of cells()) this.inc(cell.labels, cell.value);
    },
  });
}

export function cellGauge(spec: BridgeSpec<GaugeCell>): GaugeT {
  const { cells } = spec;
  return new Gauge({
    name: spec.name, help: spec.help, labelNames: spec.labelNames, registers: [spec.registry],
    collect() {
      this.reset();
      for (const cell of cells()) this.set(cell.labels, cell.value);
    },
  });
}

type HistogramData = Awaited<ReturnType<HistogramT['get']>>;
type HistogramValue = HistogramData['values'][number];
// prom-client's typings declare `type` as a numeric enum that does not exist at runtime; the
// registry writes the field verbatim into `# TYPE`, so it must be the string its own classes use.
const HISTOGRAM_TYPE = 'histogram' as unknown as HistogramData['type'];
const noop = (): void => {};

export class CellHistogram extends Histogram {
  private readonly spec: BridgeSpec<HistogramCell>;
  private readonly bounds: readonly string[];

  constructor(spec: BridgeSpec<HistogramCell>, buckets: readonly number[]) {
    super({ name: spec.name, help: spec.help, labelNames: spec.labelNames, buckets: [...buckets], registers: [spec.registry] });
    this.spec = spec;
    this.bounds = buckets.map(String);
  }

  override async get(): Promise<HistogramData> {
    return this.read();
  }

  /** The registry prefers this over `get()` when present (prom-client 15), so it must agree. */
  async getForPromString(): Promise<HistogramData> {
    return this.read();
  }

  private read(): HistogramData {
    const name = this.spec.name;
    const values: HistogramValue[] = [];
    for (const cell of this.spec.cells()) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += cell.counts[i]!;
        values.push({ metricName: `${name}_bucket`, labels: { ...cell.labels, le: this.bounds[i]! }, value: cumulative });
      }
      values.push({ metricName: `${name}_bucket`, labels: { ...cell.labels, le: '+Inf' }, value: cell.count });
      values.push({ metricName: `${name}_sum`, labels: cell.labels, value: cell.sum });
      values.push({ metricName: `${name}_count`, labels: cell.labels, value: cell.count });
    }
    return { name, help: this.spec.help, type: HISTOGRAM_TYPE, values, aggregator: 'sum', collect: noop };
  }
}
