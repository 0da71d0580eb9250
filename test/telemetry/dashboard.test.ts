/**
 * deploy/grafana/pilotfish.json against the real registry: valid JSON, a Prometheus data-source
 * variable, and every PromQL expression (panels, annotations, variables) naming only metrics the
 * sidecar exports — and every SPEC §6 metric shown somewhere.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/telemetry/index.js';

const file = fileURLToPath(new URL('../../deploy/grafana/pilotfish.json', import.meta.url));

interface Target { expr: string; datasource?: { uid?: string } }
interface Panel { id: number; type: string; title: string; gridPos: { x: number; w: number }; datasource?: { uid?: string }; targets?: Target[] }
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  annotations: { list: { expr?: string }[] };
  templating: { list: { name: string; type: string; query: string | { query: string } }[] };
}

// PromQL functions, aggregations and keywords the dashboard uses; anything else bare is a metric name.
const NOT_METRICS = new Set([
  'sum', 'max', 'min', 'avg', 'count', 'rate', 'increase', 'changes', 'histogram_quantile', 'vector',
  'or', 'and', 'unless', 'bool', 'by', 'without', 'offset',
]);

/** Metric names in one PromQL expression (or a Grafana `label_values(expr, label)` query). */
function metricNames(expr: string): string[] {
  const inner = /^label_values\((.*),\s*[a-zA-Z_]\w*\)$/s.exec(expr.trim())?.[1] ?? expr;
  const stripped = inner
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\$\{?\w+\}?/g, '')
    .replace(/\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b/gi, '');
  const names: string[] = [];
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const rest = stripped.slice(m.index + m[0].length).trimStart();
    if (rest.startsWith('(') || NOT_METRICS.has(m[0])) continue;
    names.push(m[0]);
  }
  return names;
}

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
  const exprs = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...dashboard.annotations.list.flatMap((a) => (a.expr ? [a.expr] : [])),
    ...dashboard.templating.list.filter((v) => v.type === 'query').map((v) => (typeof v.query === 'string' ? v.query : v.query.query)),
  ];

  it('has a Prometheus data-source variable that every panel and query uses', () => {
    const ds = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(ds).toMatchObject({ name: 'datasource', query: 'prometheus' });
    for (const p of dashboard.panels.filter((x) => x.type !== 'row')) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe('${datasource}');
    }
  });

  it('lays panels out on the 24-column grid with unique ids', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
  });

  it('references only metrics the registry exports, and shows every one of the sidecar\'s own', () => {
    // The certificate metrics are registered by a sidecar's first certificate load (SPEC §12 identity).
    const metrics = new Metrics();
    metrics.certificate('ok', 1_800_000_000);
    const registered = new Set(metrics.registry.getMetricsAsArray().map((m) => m.name));
    const resolve = (name: string): string | undefined => {
      if (registered.has(name)) return name;
      const base = name.replace(/_(?:bucket|sum|count)$/, '');
      return base !== name && registered.has(base) ? base : undefined;
    };
    const used = new Set<string>();
    for (const expr of exprs) {
      const names = metricNames(expr);
      expect(names.length, expr).toBeGreaterThan(0);
      for (const name of names) {
        const found = resolve(name);
        expect(found, `${name} in ${expr}`).toBeDefined();
        used.add(found!);
      }
    }
    const spec = [...registered].filter((n) => n.startsWith('pilotfish_'));
    expect(spec).toHaveLength(24); // SPEC §6's 13, skipped retries, the edge and overload ones, SPEC §12's 3 and certificate loads, SPEC §11's gRPC one
    expect(spec.filter((n) => !used.has(n))).toEqual([]);
  });

  it('computes latency quantiles from the duration histogram per route and upstream', () => {
    const quantiles = exprs.filter((e) => e.startsWith('histogram_quantile('));
    for (const q of ['0.5', '0.95', '0.99']) {
      expect(quantiles.some((e) => e.startsWith(`histogram_quantile(${q},`) && /by \(le, route\)/.test(e))).toBe(true);
      expect(quantiles.some((e) => e.startsWith(`histogram_quantile(${q},`) && /by \(le, upstream, subset\)/.test(e))).toBe(true);
    }
    expect(quantiles.every((e) => e.includes('pilotfish_request_duration_seconds_bucket'))).toBe(true);
  });

  it('parses PromQL the way the checks above assume', () => {
    expect(metricNames('sum by (le, route) (rate(a_bucket{x=~"$route", y!="b c"}[$__rate_interval])) / sum(b_total)')).toEqual(['a_bucket', 'b_total']);
    expect(metricNames('count(g == 2) or vector(0)')).toEqual(['g']);
    expect(metricNames('label_values(m{ns=~"$namespace"}, pod)')).toEqual(['m']);
  });
});
