import { describe, expect, it } from 'vitest';
import { parseComparison } from './comparison.js';
import { checkMetricExpr, evaluateQuery, parseMetricExpr, parseMetricQuery, type MetricExpr } from './metric-expr.js';
import { parsePromText } from './prom-text.js';

const SCRAPE = parsePromText(`# HELP pilotfish_circuit_breaker_state 0 closed, 1 half-open, 2 open
# TYPE pilotfish_circuit_breaker_state gauge
pilotfish_circuit_breaker_state{upstream="reviews",subset="v1"} 2
pilotfish_circuit_breaker_state{upstream="reviews",subset="v2"} 0
pilotfish_circuit_breaker_state{upstream="ratings",subset=""} 1
pilotfish_requests_total{route="r",code="200",flags=""} 90 1700000000000
pilotfish_requests_total{route="r",code="503",flags="UF,URX"} 10
pilotfish_odd{path="a \\"quoted\\" \\\\ value\\n"} +Inf
pilotfish_config_generation 3
`);

describe('parsePromText', () => {
  it('reads names, labels (unescaped), values; skips comments and timestamps', () => {
    expect(SCRAPE).toHaveLength(7);
    expect(SCRAPE[0]).toEqual({ name: 'pilotfish_circuit_breaker_state', labels: { upstream: 'reviews', subset: 'v1' }, value: 2 });
    expect(SCRAPE[3]!.value).toBe(90);
    expect(SCRAPE[5]).toEqual({ name: 'pilotfish_odd', labels: { path: 'a "quoted" \\ value\n' }, value: Infinity });
    expect(SCRAPE[6]).toEqual({ name: 'pilotfish_config_generation', labels: {}, value: 3 });
  });
});

describe('metric expressions', () => {
  const expr = (text: string): MetricExpr => {
    const e = parseMetricExpr(text);
    if (typeof e === 'string') throw new Error(e);
    return e;
  };

  it.each([
    ['pilotfish_circuit_breaker_state{upstream="reviews"} == 2', true, 2], // a bare selector sums its series
    ['max(pilotfish_circuit_breaker_state{upstream="reviews"}) == 2', true, 2],
    ['min(pilotfish_circuit_breaker_state{upstream="reviews"}) == 0', true, 0],
    ['count(pilotfish_circuit_breaker_state) == 3', true, 3],
    ['sum(pilotfish_requests_total{code=~"5.."}) >= 10', true, 10],
    ['pilotfish_requests_total{code!="200"} < 10', false, 10],
    ['pilotfish_requests_total{flags=~".*URX.*"} > 0', true, 10],
    ['pilotfish_requests_total{code!~"2.."} == 10', true, 10],
    ['pilotfish_requests_total{code="418"} == 0', true, 0], // a counter that never counted has no series: sum 0
    ['pilotfish_config_generation != 1', true, 3],
  ] as const)('%s → %s', (text, ok, observed) => {
    expect(checkMetricExpr(expr(text), SCRAPE)).toEqual({ ok, observed });
  });

  it('max/min of no series is "no value", so the hypothesis fails', () => {
    expect(checkMetricExpr(expr('max(pilotfish_circuit_breaker_state{upstream="nope"}) == 0'), SCRAPE)).toEqual({ ok: false, observed: undefined });
  });

  it('delta() subtracts the baseline scrape', () => {
    const before = parsePromText('pilotfish_requests_total{code="503"} 4\n');
    expect(checkMetricExpr(expr('delta(pilotfish_requests_total{code="503"}) == 6'), SCRAPE, before)).toEqual({ ok: true, observed: 6 });
  });

  it('parses `within`', () => {
    expect(expr('pilotfish_circuit_breaker_state{upstream="a"} == 2 within 2s')).toMatchObject({ op: '==', value: 2, withinMs: 2000, aggregation: 'sum' });
  });

  it.each([
    ['', /expected a metric name/],
    ['pilotfish_x', /expected "<metric> <op> <number>/],
    ['pilotfish_x{a=b} == 1', /malformed label matcher/],
    ['max(pilotfish_x == 1', /missing "\)"/],
    ['pilotfish_x == 1 within soon', /invalid duration "soon"/],
    ['pilotfish_x{a=~"("} == 1', /invalid regex/],
  ])('rejects %j', (text, message) => {
    expect(parseMetricExpr(text)).toMatch(message);
  });

  it('a query alone (steady-state probes) has no comparison', () => {
    const q = parseMetricQuery('max(pilotfish_circuit_breaker_state{upstream="reviews"})');
    expect(typeof q === 'string' ? q : evaluateQuery(q, SCRAPE)).toBe(2);
    expect(parseMetricQuery('pilotfish_x == 1')).toMatch(/unexpected "== 1"/);
  });
});

describe('parseComparison', () => {
  it.each([
    ['>= 99.9%', ['percent'], { op: '>=', value: 99.9, unit: 'percent' }],
    ['< 250ms', ['ms'], { op: '<', value: 250, unit: 'ms' }],
    ['<=1s', ['ms'], { op: '<=', value: 1000, unit: 'ms' }],
    ['< 250', ['ms'], { op: '<', value: 250, unit: 'ms' }],
    ['== 0', ['percent', 'count'], { op: '==', value: 0, unit: 'count' }],
    ['!= 3', ['count'], { op: '!=', value: 3, unit: 'count' }],
  ] as const)('%s', (text, units, expected) => {
    expect(parseComparison(text, units)).toMatchObject(expected);
  });

  it.each([
    ['99%', ['percent'], /expected a comparison such as ">= 99.9%"/],
    ['>= 101%', ['percent'], /within 0–100/],
    ['< 5%', ['ms'], /a percentage does not fit here/],
    ['< soon', ['ms'], /expected a comparison/],
    ['>= 1s', ['count'], /expected a comparison/],
  ] as const)('rejects %s', (text, units, message) => {
    expect(parseComparison(text, units)).toMatch(message);
  });
});
