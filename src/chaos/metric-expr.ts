/**
 * Metric hypotheses, written the way one reads a dashboard:
 *   `pilotfish_circuit_breaker_state{upstream="reviews"} == 2 within 2s`
 *   `max(pilotfish_circuit_breaker_state{upstream="reviews"}) == 0`
 *   `delta(pilotfish_config_reloads_total{result="success"}) >= 10`
 * A selector may match several series (one per subset, code, …): a bare selector sums them, and
 * `sum|max|min|count(…)` say how to combine them explicitly. `delta(…)` is the sum now minus the sum
 * when the experiment began, so counters of a long-running (target) sidecar can be asserted on too.
 * Label matchers are Prometheus's `=`, `!=`, `=~`, `!~` (regexes anchored).
 */
import { parseDuration } from '../config/index.js';
import { compare, type ComparisonOp } from './comparison.js';
import type { MetricSample } from './prom-text.js';

export type MetricAggregation = 'sum' | 'max' | 'min' | 'count' | 'delta';

export interface LabelMatcher {
  readonly label: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}

export interface MetricQuery {
  readonly aggregation: MetricAggregation;
  readonly name: string;
  readonly matchers: readonly LabelMatcher[];
  readonly text: string;
}

export interface MetricExpr extends MetricQuery {
  readonly op: ComparisonOp;
  readonly value: number;
  /** Poll until the comparison holds, for at most this long (ms); absent: checked once. */
  readonly withinMs?: number;
  readonly text: string;
}

const QUERY = /^(?:(sum|max|min|count|delta)\(\s*)?([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*(\))?/;
const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/;
const TAIL = /^(==|!=|<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)(?:\s+within\s+(\S+))?$/;

/** Parses a query and returns it with the unparsed remainder, or an error message. */
function parseQueryPrefix(text: string): { query: MetricQuery; rest: string } | string {
  const m = QUERY.exec(text.trim());
  if (!m) return `expected a metric name, e.g. pilotfish_requests_total{code="503"}`;
  const [whole, agg, name, braces, close] = m;
  if (agg !== undefined && close === undefined) return `missing ")" after ${agg}(…`;
  if (agg === undefined && close !== undefined) return 'unexpected ")"';
  const matchers = braces === undefined ? [] : parseMatchers(braces.slice(1, -1));
  if (typeof matchers === 'string') return matchers;
  const query = { aggregation: (agg ?? 'sum') as MetricAggregation, name: name!, matchers, text: whole.trim() };
  return { query, rest: text.trim().slice(whole.length).trim() };
}

export function parseMetricQuery(text: string): MetricQuery | string {
  const r = parseQueryPrefix(text);
  if (typeof r === 'string') return r;
  return r.rest === '' ? r.query : `unexpected ${JSON.stringify(r.rest)} after the metric`;
}

export function parseMetricExpr(text: string): MetricExpr | string {
  const r = parseQueryPrefix(text);
  if (typeof r === 'string') return r;
  const t = TAIL.exec(r.rest);
  if (!t) return `expected "<metric> <op> <number> [within <duration>]", e.g. pilotfish_circuit_breaker_state{upstream="a"} == 2 within 2s; got ${JSON.stringify(text)}`;
  const withinMs = t[3] === undefined ? undefined : parseDuration(t[3]);
  if (t[3] !== undefined && withinMs === undefined) return `invalid duration ${JSON.stringify(t[3])} after "within"`;
  return { ...r.query, op: t[1] as ComparisonOp, value: Number(t[2]), ...(withinMs === undefined ? {} : { withinMs }), text: text.trim() };
}

function parseMatchers(body: string): LabelMatcher[] | string {
  const out: LabelMatcher[] = [];
  let rest = body.trim();
  while (rest !== '') {
    const m = MATCHER.exec(rest);
    if (!m) return `malformed label matcher in {${body}} (expected label="value", label!="value", label=~"regex")`;
    const value = m[3]!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    if (m[2] === '=~' || m[2] === '!~') {
      try { new RegExp(value); } catch { return `invalid regex ${JSON.stringify(value)} for label ${m[1]}`; }
    }
    out.push({ label: m[1]!, op: m[2] as LabelMatcher['op'], value });
    rest = rest.slice(m[0].length).trim();
  }
  return out;
}

function matches(sample: MetricSample, q: MetricQuery): boolean {
  if (sample.name !== q.name) return false;
  return q.matchers.every((m) => {
    const v = sample.labels[m.label] ?? '';
    switch (m.op) {
      case '=': return v === m.value;
      case '!=': return v !== m.value;
      case '=~': return new RegExp(`^(?:${m.value})$`).test(v);
      case '!~': return !new RegExp(`^(?:${m.value})$`).test(v);
    }
  });
}

/**
 * The query's value over a scrape. Sums (and deltas) of no series are 0 — a labelled counter that
 * never counted has no series yet; `max`/`min` of nothing are undefined ("no series matched").
 */
export function evaluateQuery(q: MetricQuery, samples: readonly MetricSample[], baseline: readonly MetricSample[] = []): number | undefined {
  const values = samples.filter((s) => matches(s, q)).map((s) => s.value);
  const sum = (vs: number[]): number => vs.reduce((a, b) => a + b, 0);
  switch (q.aggregation) {
    case 'sum': return sum(values);
    case 'count': return values.length;
    case 'max': return values.length === 0 ? undefined : Math.max(...values);
    case 'min': return values.length === 0 ? undefined : Math.min(...values);
    case 'delta': return sum(values) - sum(baseline.filter((s) => matches(s, q)).map((s) => s.value));
  }
}

/** Whether the expression holds on this scrape, with the value it saw. */
export function checkMetricExpr(e: MetricExpr, samples: readonly MetricSample[], baseline?: readonly MetricSample[]): { ok: boolean; observed: number | undefined } {
  const observed = evaluateQuery(e, samples, baseline);
  return { ok: observed !== undefined && compare(observed, e), observed };
}
