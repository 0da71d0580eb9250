/**
 * The steady-state hypothesis (Chaos Toolkit's shape): probes, each with a tolerance its result must
 * fall within, checked before the experiments (if it does not hold, they are not run: the system was
 * not steady to begin with) and again after them (it must have come back).
 */
import http from '../core/node-http.js';
import { scrapeMetrics } from './admin-client.js';
import type { ExpectBlock } from './expect-schema.js';
import { evaluateSampleHypotheses, result, type HypothesisResult } from './hypotheses.js';
import type { PhaseRecord } from './journal.js';
import { runLoad } from './load-generator.js';
import { evaluateQuery } from './metric-expr.js';
import { sendRequest } from './request-sender.js';
import { summarize, timeline } from './samples.js';
import type { RunContext } from './experiment-runner.js';
import type { Probe } from './suite-schema.js';

export type StatusTolerance = number | readonly number[] | { readonly range: readonly [number, number] };

export async function runSteadyState(probes: readonly Probe[], phase: PhaseRecord, ctx: RunContext): Promise<void> {
  const started = performance.now();
  for (const probe of probes) {
    if (ctx.signal.aborted) break;
    try {
      phase.hypotheses.push(...await runProbe(probe, phase, ctx));
    } catch (err) {
      phase.hypotheses.push(result(probe.name, false, 'a probe result', `probe failed: ${(err as Error).message}`));
    }
  }
  phase.ok = phase.hypotheses.every((h) => h.ok);
  phase.durationMs = Math.round(performance.now() - started);
}

async function runProbe(probe: Probe, phase: PhaseRecord, ctx: RunContext): Promise<HypothesisResult[]> {
  if (probe.http) {
    const agent = new http.Agent({ keepAlive: false });
    const r = await sendRequest({ agent, target: ctx.env.proxyUrl(), template: probe.http, seq: 0, timeoutMs: 10_000 });
    agent.destroy();
    const tolerance = probe.tolerance as StatusTolerance;
    const observed = r.status === 0 ? `no answer (${r.error ?? 'error'})` : String(r.status);
    return [result(probe.name, r.status !== 0 && withinTolerance(r.status, tolerance), describeTolerance(tolerance), observed)];
  }
  if (probe.metric) {
    const url = ctx.env.metricsUrl();
    if (!url) throw new Error('no metrics URL');
    const value = evaluateQuery(probe.metric, await scrapeMetrics(url));
    const tolerance = probe.tolerance as StatusTolerance;
    const ok = value !== undefined && withinTolerance(value, tolerance);
    return [result(`${probe.name}: ${probe.metric.text}`, ok, describeTolerance(tolerance), value === undefined ? 'no series matched' : String(value))];
  }
  const samples = await runLoad({ spec: probe.load!, target: ctx.env.proxyUrl(), targets: ctx.env.proxyUrls(), signal: ctx.signal, onSample: (s) => ctx.progress.sample(s) });
  phase.load = { ...summarize(samples), timeline: timeline(samples) };
  return evaluateSampleHypotheses(probe.tolerance as ExpectBlock, samples, { labelsOf: (i) => ctx.env.labelsOf(i), sidecars: ctx.env.proxyUrls().length })
    .map((h) => ({ ...h, name: `${probe.name}: ${h.name}`, ...(h.message ? { message: `${probe.name}: ${h.message}` } : {}) }));
}

export function withinTolerance(value: number, t: StatusTolerance): boolean {
  if (typeof t === 'number') return value === t;
  if (Array.isArray(t)) return t.includes(value);
  const [min, max] = (t as { range: readonly [number, number] }).range;
  return value >= min && value <= max;
}

export function describeTolerance(t: StatusTolerance): string {
  if (typeof t === 'number') return `== ${t}`;
  if (Array.isArray(t)) return `one of ${t.join(', ')}`;
  const [min, max] = (t as { range: readonly [number, number] }).range;
  return `within [${min}, ${max}]`;
}
