/**
 * The journal: everything a suite run did and saw, in the order it happened. `--json` writes it
 * whole; the table and JUnit reporters read from it. Times are ms; `at` values are relative to the
 * phase's start.
 */
import type { HypothesisResult } from './hypotheses.js';
import type { LoadSummary, RequestSample, TimelineBucket } from './samples.js';

export type PhaseKind = 'steady-state-before' | 'experiment' | 'steady-state-after';

export interface ActionRecord {
  readonly at: number;
  readonly step: 'inject' | 'undo' | 'rollback';
  readonly description: string;
  readonly error?: string;
}

export interface PhaseRecord {
  readonly kind: PhaseKind;
  readonly name: string;
  readonly description?: string;
  readonly startedAt: string;
  durationMs: number;
  readonly actions: ActionRecord[];
  load?: LoadSummary & { readonly timeline: readonly TimelineBucket[] };
  readonly hypotheses: HypothesisResult[];
  /** Not run (the steady state did not hold before, or the run was interrupted). */
  skipped?: string;
  ok: boolean;
}

export type SuiteOutcome = 'passed' | 'failed' | 'invalid' | 'environment-failed' | 'interrupted' | 'skipped';

export interface SuiteJournal {
  readonly suite: string;
  readonly file: string;
  readonly description?: string;
  readonly startedAt: string;
  durationMs: number;
  environment?: Record<string, unknown>;
  readonly phases: PhaseRecord[];
  outcome: SuiteOutcome;
  /** Why the suite could not run (invalid, environment), one problem a line. */
  errors?: string[];
  /** Why it was not run: a system program it needs is missing (and what installs it). */
  skipped?: string;
}

/** What a live reporter hears while a suite runs. */
export interface ProgressListener {
  phaseStarted(phase: PhaseRecord, index: number, total: number): void;
  sample(s: RequestSample): void;
  action(a: ActionRecord): void;
  phaseFinished(phase: PhaseRecord): void;
}

export const silentProgress: ProgressListener = {
  phaseStarted() {}, sample() {}, action() {}, phaseFinished() {},
};

export function newPhase(kind: PhaseKind, name: string, description?: string): PhaseRecord {
  return {
    kind, name, ...(description === undefined ? {} : { description }),
    startedAt: new Date().toISOString(), durationMs: 0, actions: [], hypotheses: [], ok: true,
  };
}
