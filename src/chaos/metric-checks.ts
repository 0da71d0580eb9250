/**
 * Metric hypotheses against the live `/metrics`: polled from the start of the load until they hold
 * or `within` has passed (a breaker opens some time after the failures begin), or checked once after
 * the load when no `within` is given.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { formatDuration } from '../config/index.js';
import { scrapeMetrics } from './admin-client.js';
import { result, type HypothesisResult } from './hypotheses.js';
import { checkMetricExpr, type MetricExpr } from './metric-expr.js';
import type { MetricSample } from './prom-text.js';

const POLL_MS = 100;

export interface MetricCheckOptions {
  readonly url: URL | undefined;
  /** Scrape from the experiment's start, for `delta(…)`. */
  readonly baseline: readonly MetricSample[];
  /** `performance.now()` the `within` window counts from. */
  readonly t0: number;
  readonly signal?: AbortSignal | undefined;
}

export async function checkMetric(e: MetricExpr, o: MetricCheckOptions): Promise<HypothesisResult> {
  const name = `metric ${e.text}`;
  const expected = `${e.op} ${e.value}${e.withinMs === undefined ? '' : ` within ${formatDuration(e.withinMs)}`}`;
  if (!o.url) return result(name, false, expected, 'no metrics URL');
  const deadline = o.t0 + (e.withinMs ?? 0);
  let observed = 'not scraped';
  for (;;) {
    try {
      const r = checkMetricExpr(e, await scrapeMetrics(o.url), o.baseline);
      observed = r.observed === undefined ? 'no series matched' : String(r.observed);
      if (r.ok) return result(name, true, expected, observed);
    } catch (err) {
      observed = `scrape failed: ${(err as Error).message}`;
    }
    if (performance.now() >= deadline || o.signal?.aborted) break;
    try { await sleep(POLL_MS, undefined, o.signal ? { signal: o.signal } : {}); } catch { break; }
  }
  return result(name, false, expected, observed, e.withinMs === undefined ? undefined : `last value after ${formatDuration(e.withinMs)}`);
}

/** A scrape for `delta(…)` baselines; empty when there is nothing to scrape or it fails. */
export async function baselineScrape(url: URL | undefined, needed: boolean): Promise<MetricSample[]> {
  if (!url || !needed) return [];
  return scrapeMetrics(url).catch(() => []);
}
