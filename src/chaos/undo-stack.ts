/**
 * Undo functions of the actions an experiment applied. Each runs at most once — whether a `for`
 * timer fires it during the load or the final unwind does — and the unwind runs the rest newest
 * first, recording failures instead of stopping at the first: one stuck undo must not leave the
 * other faults behind.
 */
import type { ActionRecord } from './journal.js';

type Record_ = (step: ActionRecord['step'], description: string, error?: string) => void;

interface Entry {
  readonly description: string;
  readonly run: () => Promise<void>;
}

export class UndoStack {
  private readonly entries: Entry[] = [];
  private readonly failures: string[] = [];

  constructor(private readonly record: Record_) {}

  /** Adds an undo and returns a function that runs it (once). */
  push(description: string, undo: () => Promise<void>): () => Promise<void> {
    let done: Promise<void> | undefined;
    const run = (): Promise<void> => (done ??= undo().then(
      () => this.record('undo', description),
      (err: unknown) => {
        const message = (err as Error).message ?? String(err);
        this.failures.push(`${description}: ${message}`);
        this.record('undo', description, message);
      },
    ));
    this.entries.push({ description, run });
    return run;
  }

  /** Runs every undo not yet run, newest first; returns the failures of all undos so far. */
  async unwind(): Promise<readonly string[]> {
    for (const e of [...this.entries].reverse()) await e.run();
    return this.failures;
  }
}
