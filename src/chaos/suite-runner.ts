/**
 * Runs one loaded suite: start the environment, check the steady state, run each experiment, check
 * the steady state again, and tear the environment down — in `finally`, so processes, ports, toxics
 * and faults are released on success, failure and interruption alike.
 */
import { startLocal, targetEnvironment, type Environment } from './environment.js';
import { RedisServer } from './redis-server.js';
import { runExperiment, type RunContext } from './experiment-runner.js';
import { newPhase, silentProgress, type PhaseRecord, type ProgressListener, type SuiteJournal } from './journal.js';
import { runSteadyState } from './steady-state.js';
import type { LoadedSuite } from './suite-load.js';

export interface RunSuiteOptions {
  /** The pilotfish CLI script a local sidecar runs from. Default: the built CLI beside this module. */
  readonly cli?: string;
  /** Aborting stops the load and skips what is left; cleanup still runs. */
  readonly signal?: AbortSignal;
  readonly progress?: ProgressListener;
  /** Told about the environment once it runs (and `undefined` once it is gone), for exit hooks. */
  readonly onEnvironment?: (env: Environment | undefined) => void;
}

export async function runSuite(loaded: LoadedSuite, o: RunSuiteOptions = {}): Promise<SuiteJournal> {
  const { suite } = loaded;
  const started = performance.now();
  const journal: SuiteJournal = {
    suite: suite.name, file: loaded.file, ...(suite.description === undefined ? {} : { description: suite.description }),
    startedAt: new Date().toISOString(), durationMs: 0, phases: [], outcome: 'passed',
  };
  const signal = o.signal ?? new AbortController().signal;
  const missing = missingProgram(suite);
  if (missing) {
    // As the test suite does (test/helpers/system.ts): skipped with the reason where the program is
    // missing, an error where PILOTFISH_REQUIRE_SYSTEM=1 says everything must run (CI).
    if (process.env.PILOTFISH_REQUIRE_SYSTEM === '1') { journal.outcome = 'environment-failed'; journal.errors = [`PILOTFISH_REQUIRE_SYSTEM=1 but ${missing}`]; }
    else { journal.outcome = 'skipped'; journal.skipped = missing; }
    return journal;
  }
  let env: Environment;
  try {
    env = suite.environment.local
      ? await startLocal(suite.environment.local, { dir: loaded.dir, cli: o.cli })
      : targetEnvironment(suite.environment.target!);
  } catch (err) {
    journal.outcome = 'environment-failed';
    journal.errors = [(err as Error).message];
    journal.durationMs = Math.round(performance.now() - started);
    return journal;
  }
  o.onEnvironment?.(env);
  journal.environment = env.describe();
  try {
    await runPhases(loaded, journal, { env, dir: loaded.dir, signal, progress: o.progress ?? silentProgress });
  } finally {
    await env.close();
    o.onEnvironment?.(undefined);
  }
  journal.outcome = signal.aborted ? 'interrupted' : journal.phases.every((p) => p.ok) ? 'passed' : 'failed';
  journal.durationMs = Math.round(performance.now() - started);
  return journal;
}

/** What a suite needs that is not installed, as "needs X (install: …)"; undefined when nothing is missing. */
function missingProgram(suite: LoadedSuite['suite']): string | undefined {
  if (suite.environment.local?.fleet && !RedisServer.installed()) return 'needs redis-server (install: apt-get install -y redis-server)';
  return undefined;
}

async function runPhases(loaded: LoadedSuite, journal: SuiteJournal, ctx: RunContext): Promise<void> {
  const { suite } = loaded;
  const steady = suite.steadyState;
  const plan: Array<{ phase: PhaseRecord; run: () => Promise<void> }> = [];
  if (steady) {
    const phase = newPhase('steady-state-before', steady.title);
    plan.push({ phase, run: () => runSteadyState(steady.probes, phase, ctx) });
  }
  for (const x of suite.experiments) {
    const phase = newPhase('experiment', x.name, x.description);
    plan.push({ phase, run: () => runExperiment(x, phase, ctx) });
  }
  if (steady) {
    const phase = newPhase('steady-state-after', steady.title);
    plan.push({ phase, run: () => runSteadyState(steady.probes, phase, ctx) });
  }
  let skip: string | undefined;
  for (const [i, step] of plan.entries()) {
    journal.phases.push(step.phase);
    if (ctx.signal.aborted) skip ??= 'interrupted';
    if (skip) {
      step.phase.skipped = skip;
      continue;
    }
    ctx.progress.phaseStarted(step.phase, i, plan.length);
    await step.run();
    ctx.progress.phaseFinished(step.phase);
    if (step.phase.kind === 'steady-state-before' && !step.phase.ok) skip = 'the steady state did not hold before the experiments';
  }
}
