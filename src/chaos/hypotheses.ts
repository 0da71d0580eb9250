/**
 * Evaluates the sample-based hypotheses of an `expect` block against the requests the load recorded.
 * Pure: no clock, no I/O — metric and process hypotheses are evaluated by the runner, which reports
 * them in this same shape. Every result says what was expected and what was observed, so a failure
 * reads as a sentence, not a boolean.
 */
import { compare, formatObserved, type Comparison } from './comparison.js';
import type { ExpectBlock } from './expect-schema.js';
import { isSuccess, percentile, sortedLatencies, type RequestSample } from './samples.js';
import { formatDuration } from '../config/index.js';

export interface HypothesisResult {
  readonly name: string;
  readonly ok: boolean;
  readonly expected: string;
  readonly observed: string;
  /** Present when it failed: "observed …, expected …". */
  readonly message?: string;
}

export interface SampleContext {
  /** Labels of a fake instance (for `share.by: <label>`). */
  readonly labelsOf?: (instance: string) => Readonly<Record<string, string>> | undefined;
  /** How many sidecars the load went through (for `each: sidecar`). Default 1. */
  readonly sidecars?: number;
  /** When each kind of injection began and completed (its first one), ms after the load began: for `window.after`/`before`. */
  readonly marks?: Readonly<Record<string, { readonly start: number; readonly end: number }>> | undefined;
}

export function result(name: string, ok: boolean, expected: string, observed: string, detail?: string): HypothesisResult {
  return ok ? { name, ok, expected, observed } : { name, ok, expected, observed, message: `${name}: observed ${observed}, expected ${expected}${detail ? ` (${detail})` : ''}` };
}

export function windowOf(block: ExpectBlock, samples: readonly RequestSample[], marks: SampleContext['marks'] = {}): { samples: RequestSample[]; label: string } {
  const w = block.window;
  if (!w) return { samples: [...samples], label: '' };
  if (w.after === undefined && w.before === undefined) {
    const from = w.from ?? 0;
    const to = w.to ?? Infinity;
    const label = `[${formatDuration(from)}–${to === Infinity ? 'end' : formatDuration(to)}] `;
    return { samples: samples.filter((s) => s.scheduledAt >= from && s.scheduledAt < to), label };
  }
  // Anchored to injections, causally: a request *sent* after an injection completed saw its effect
  // (`after`), one *answered* before an injection began did not (`before`). An injection that never
  // happened leaves the window empty — which fails, as every empty window does.
  const origin = w.after === undefined ? 0 : marks[w.after]?.end ?? Infinity;
  const from = origin + (w.from ?? 0);
  const to = w.to === undefined ? Infinity : origin + w.to;
  const until = w.before === undefined ? Infinity : marks[w.before]?.start ?? -Infinity;
  const sent = (s: RequestSample): number => s.sentAt ?? s.scheduledAt;
  const answered = (s: RequestSample): number => s.scheduledAt + s.latency;
  const at = (d: number | undefined): string => (w.after === undefined ? formatDuration(d ?? 0) : `${w.after}${d ? ` +${formatDuration(d)}` : ''}`);
  const label = [`sent ${w.after === undefined ? 'from' : 'after'} ${at(w.from)}`, ...(w.to === undefined ? [] : [`before ${at(w.to)}`]), ...(w.before === undefined ? [] : [`answered before ${w.before}`])].join(', ');
  return { samples: samples.filter((s) => sent(s) >= from && sent(s) < to && answered(s) < until), label: `[${label}] ` };
}

export function evaluateSampleHypotheses(block: ExpectBlock, all: readonly RequestSample[], ctx: SampleContext = {}): HypothesisResult[] {
  if (block.each !== 'sidecar') return evaluateBlock(block, all, ctx);
  // One verdict per sidecar, on its own traffic: "errors stop on every sidecar", not on average.
  return Array.from({ length: ctx.sidecars ?? 1 }, (_, i) => evaluateBlock(block, all.filter((s) => (s.sidecar ?? 0) === i), ctx)
    .map((h) => ({ ...h, name: `sidecar[${i}] ${h.name}`, ...(h.message ? { message: `sidecar[${i}] ${h.message}` } : {}) }))).flat();
}

function evaluateBlock(block: ExpectBlock, all: readonly RequestSample[], ctx: SampleContext): HypothesisResult[] {
  const { samples, label } = windowOf(block, all, ctx.marks);
  const out: HypothesisResult[] = [];
  const n = samples.length;
  const share = (name: string, c: Comparison, matching: number, of: number, what: string): void => {
    const value = c.unit === 'percent' ? (of === 0 ? NaN : (matching / of) * 100) : matching;
    const observed = c.unit === 'percent' ? (of === 0 ? `no ${what}` : `${formatObserved(value, 'percent')} (${matching}/${of})`) : String(matching);
    out.push(result(`${label}${name}`, !Number.isNaN(value) && compare(value, c), c.text, observed));
  };
  if (block.requests) out.push(result(`${label}requests`, compare(n, block.requests), block.requests.text, String(n)));
  if (block.successRate) share(`successRate`, block.successRate, samples.filter(isSuccess).length, n, 'requests');
  for (const [key, c] of Object.entries(block.status ?? {})) share(`status ${key}`, c, samples.filter((s) => statusMatches(key, s)).length, n, 'requests');
  for (const [key, c] of Object.entries(block.flags ?? {})) {
    share(`flag ${key}`, c, samples.filter((s) => (key === 'none' ? s.flags.length === 0 : s.flags.includes(key))).length, n, 'requests');
  }
  if (block.latency) out.push(...latencyResults(block.latency, samples, label));
  if (block.share) {
    const { by, values } = block.share;
    const answered = samples.filter((s) => s.instance !== undefined);
    for (const [value, c] of Object.entries(values)) {
      const matching = answered.filter((s) => keyOf(s, by, ctx) === value).length;
      share(`share ${by}=${value}`, c, matching, answered.length, `answers from fake upstreams (no ${'x-chaos-instance'} header seen)`);
    }
  }
  return out;
}

function latencyResults(latency: Readonly<Record<string, Comparison>>, samples: readonly RequestSample[], label: string): HypothesisResult[] {
  const sorted = sortedLatencies(samples);
  return Object.entries(latency).map(([key, c]) => {
    const value = sorted.length === 0 ? NaN
      : key === 'max' ? sorted[sorted.length - 1]!
        : key === 'min' ? sorted[0]!
          : key === 'mean' ? sorted.reduce((a, b) => a + b, 0) / sorted.length
            : percentile(sorted, Number(key.slice(1)));
    const observed = Number.isNaN(value) ? 'no requests' : `${formatObserved(value, 'ms')} over ${sorted.length} requests`;
    return result(`${label}latency ${key}`, !Number.isNaN(value) && compare(value, c), c.text, observed);
  });
}

function statusMatches(key: string, s: RequestSample): boolean {
  if (key === 'error') return s.status === 0;
  if (key.endsWith('xx')) return Math.floor(s.status / 100) === Number(key[0]);
  return s.status === Number(key);
}

function keyOf(s: RequestSample, by: string, ctx: SampleContext): string | undefined {
  if (by === 'instance') return s.instance;
  if (by === 'upstream') return s.upstream;
  return s.instance === undefined ? undefined : ctx.labelsOf?.(s.instance)?.[by];
}
