/**
 * Runs one experiment: apply the injections due before the load, start the load, apply the timed
 * ones as it runs while metric hypotheses poll, evaluate everything, then — always, in `finally` —
 * undo every injection (newest first) and run the `rollback` actions.
 */
import { formatDuration } from '../config/index.js';
import { ACTION_KINDS, type Action } from './action-schema.js';
import { applyAction } from './actions.js';
import type { Environment } from './environment.js';
import type { ExpectBlock } from './expect-schema.js';
import { evaluateSampleHypotheses, result, type HypothesisResult, type SampleContext } from './hypotheses.js';
import type { PhaseRecord, ProgressListener } from './journal.js';
import { runLoad } from './load-generator.js';
import { baselineScrape, checkMetric } from './metric-checks.js';
import type { RequestSample } from './samples.js';
import { summarize, timeline } from './samples.js';
import type { Experiment } from './suite-schema.js';
import { raceTimeout, sleepUntil } from './timing.js';
import { UndoStack } from './undo-stack.js';

export interface RunContext {
  readonly env: Environment;
  readonly dir: string;
  readonly signal: AbortSignal;
  readonly progress: ProgressListener;
}

export async function runExperiment(x: Experiment, phase: PhaseRecord, ctx: RunContext): Promise<void> {
  const started = performance.now();
  const record = (step: 'inject' | 'undo' | 'rollback', description: string, error?: string): void => {
    const a = { at: Math.round(performance.now() - started), step, description, ...(error === undefined ? {} : { error }) };
    phase.actions.push(a);
    ctx.progress.action(a);
  };
  const undos = new UndoStack(record);
  const timers = new AbortController();
  try {
    await execute(x, phase, ctx, { undos, record, timers: timers.signal, marks: new Map() });
  } catch (err) {
    phase.hypotheses.push(result('experiment ran to the end', false, 'no error', errorText(err)));
  } finally {
    timers.abort();
    for (const failure of await undos.unwind()) phase.hypotheses.push(result('injection undone', false, 'undone', `failed: ${failure}`));
    await checkSidecarSurvived(x, phase, ctx);
    for (const a of x.rollback) {
      try {
        record('rollback', (await applyAction(a, ctx)).description);
      } catch (err) {
        record('rollback', describeAction(a), errorText(err));
        phase.hypotheses.push(result('rollback', false, 'done', `failed: ${errorText(err)}`));
      }
    }
    phase.ok = phase.hypotheses.every((h) => h.ok);
    phase.durationMs = Math.round(performance.now() - started);
  }
}

interface Tools {
  readonly undos: UndoStack;
  readonly record: (step: 'inject', description: string, error?: string) => void;
  /** Aborted when the experiment ends: pending `for` timers then leave the undo to the unwind. */
  readonly timers: AbortSignal;
  /** When the first injection of each kind began and completed (`performance.now()`), for anchored windows. */
  readonly marks: Map<string, { start: number; end: number }>;
}

async function execute(x: Experiment, phase: PhaseRecord, ctx: RunContext, tools: Tools): Promise<void> {
  const metricsUrl = ctx.env.metricsUrl();
  const baseline = await baselineScrape(metricsUrl, x.expect.some((b) => b.metrics?.some((m) => m.aggregation === 'delta')));
  const sidecar = ctx.env.sidecar();
  for (const a of x.inject.filter((i) => i.at === 0)) await inject(a, ctx, tools);
  const t0 = performance.now();
  const timed = x.inject.filter((i) => i.at > 0).map(async (a) => {
    if (await sleepUntil(t0 + a.at, ctx.signal)) await inject(a, ctx, tools);
  });
  const metric = { url: metricsUrl, baseline, t0, signal: ctx.signal };
  const polls = x.expect.flatMap((b) => (b.metrics ?? []).filter((m) => m.withinMs !== undefined).map((m) => checkMetric(m, metric)));
  const samples = x.load
    ? await runLoad({ spec: x.load, target: ctx.env.proxyUrl(), targets: ctx.env.proxyUrls(), t0, signal: ctx.signal, onSample: (s) => ctx.progress.sample(s) })
    : [];
  const injected = await Promise.allSettled(timed);
  for (const r of injected) if (r.status === 'rejected') throw r.reason;
  if (samples.length > 0) phase.load = { ...summarize(samples), timeline: timeline(samples) };
  phase.hypotheses.push(...await Promise.all(polls));
  const marks = Object.fromEntries([...tools.marks].map(([k, m]) => [k, { start: m.start - t0, end: m.end - t0 }]));
  for (const block of x.expect) phase.hypotheses.push(...await evaluateBlock(block, samples, ctx, { ...metric, sidecar, marks }));
}

async function inject(a: Action, ctx: RunContext, tools: Tools): Promise<void> {
  let applied;
  const start = performance.now();
  try {
    applied = await applyAction(a, ctx);
    const kind = ACTION_KINDS.find((k) => a[k] !== undefined);
    if (kind && !tools.marks.has(kind)) tools.marks.set(kind, { start, end: performance.now() });
  } catch (err) {
    tools.record('inject', describeAction(a), errorText(err));
    throw new Error(`inject ${describeAction(a)}: ${errorText(err)}`);
  }
  tools.record('inject', applied.description + (a.for === undefined ? '' : ` for ${formatDuration(a.for)}`));
  if (!applied.undo) return;
  const undo = tools.undos.push(applied.description, applied.undo);
  if (a.for !== undefined) {
    const until = performance.now() + a.for;
    void sleepUntil(until, tools.timers).then((due) => (due ? undo() : undefined));
  }
}

async function evaluateBlock(
  block: ExpectBlock, samples: RequestSample[], ctx: RunContext,
  o: { url: URL | undefined; baseline: Awaited<ReturnType<typeof baselineScrape>>; t0: number; sidecar: ReturnType<Environment['sidecar']>; marks: SampleContext['marks'] },
): Promise<HypothesisResult[]> {
  const out: HypothesisResult[] = [];
  const sampleBased = block.requests || block.successRate || block.status || block.latency || block.share || block.flags;
  if (sampleBased) out.push(...evaluateSampleHypotheses(block, samples, { labelsOf: (i) => ctx.env.labelsOf(i), sidecars: ctx.env.proxyUrls().length, marks: o.marks }));
  for (const m of block.metrics ?? []) {
    if (m.withinMs === undefined) out.push(await checkMetric(m, { ...o, signal: ctx.signal }));
  }
  if (block.sidecarExit && o.sidecar) {
    const { code, within } = block.sidecarExit;
    const remaining = Math.max(0, o.t0 + within - performance.now());
    const exit = await raceTimeout(o.sidecar.exited.then((c) => String(c)), remaining, 'still running');
    out.push(result('sidecar exit code', exit === String(code), `${code} within ${formatDuration(within)}`, exit));
  }
  return out;
}

/**
 * A sidecar that died without being told to is the most important finding of all: it fails the
 * experiment, with its last log lines, and is started again so the remaining phases still mean something.
 */
async function checkSidecarSurvived(x: Experiment, phase: PhaseRecord, ctx: RunContext): Promise<void> {
  if (x.inject.some((a) => a.signal !== undefined)) return;
  const dead = ctx.env.sidecars().filter((s) => !s.running);
  if (dead.length === 0) return;
  for (const sidecar of dead) {
    const code = await sidecar.exited;
    phase.hypotheses.push(result('sidecar process survived', false, 'still running', `exited with ${code}`, sidecar.logTail.slice(-5).join(' | ')));
  }
  try {
    await ctx.env.reviveSidecar();
  } catch (err) {
    phase.hypotheses.push(result('sidecar restarted', false, 'running', errorText(err)));
  }
}

export function describeAction(a: Action): string {
  const kind = ACTION_KINDS.find((k) => a[k] !== undefined) ?? 'action';
  return `${kind}${a.at > 0 ? ` at ${formatDuration(a.at)}` : ''}`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
