/**
 * `pilotfish chaos SUITE… [--junit FILE] [--json FILE]` (SPEC §2, §8). Every suite is validated
 * before any runs. Exit codes: 0 every hypothesis held; 1 one failed; 2 a suite is invalid or its
 * environment could not start (or usage error); 130 interrupted. Ctrl-C stops the load and cleans up
 * (faults, toxics, processes, ports); a second Ctrl-C kills what is left and exits at once.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { Environment } from './environment.js';
import type { SuiteJournal } from './journal.js';
import { junitXml } from './junit-report.js';
import { createProgressReporter } from './progress-reporter.js';
import { formatDiagnostic, loadSuiteFile, type LoadedSuite } from './suite-load.js';
import { runSuite } from './suite-runner.js';
import { summaryTable } from './summary-table.js';
import { CHAOS_USAGE } from './usage.js';

export interface ChaosCommandOptions {
  readonly stdout?: Writable & { isTTY?: boolean };
  readonly stderr?: Writable & { isTTY?: boolean };
  /** The pilotfish CLI script local sidecars run from. Default: the built CLI beside this module. */
  readonly cli?: string;
  /** Install SIGINT/SIGTERM handlers (the CLI does; tests pass a signal instead). Default true. */
  readonly handleSignals?: boolean;
  readonly signal?: AbortSignal;
}

export async function chaosCommand(args: string[], o: ChaosCommandOptions = {}): Promise<number> {
  const stdout = o.stdout ?? process.stdout;
  const stderr = o.stderr ?? process.stderr;
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { junit: { type: 'string' }, json: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    stderr.write(`pilotfish chaos: ${(err as Error).message}\n\n${CHAOS_USAGE}`);
    return 2;
  }
  if (parsed.values.help) { stdout.write(CHAOS_USAGE); return 0; }
  if (parsed.positionals.length === 0) { stderr.write(`pilotfish chaos: no suite given\n\n${CHAOS_USAGE}`); return 2; }

  const journals: SuiteJournal[] = [];
  const loaded: LoadedSuite[] = [];
  for (const file of parsed.positionals) {
    const r = await loadSuiteFile(file);
    if (r.ok) { loaded.push(r.loaded); continue; }
    for (const d of r.errors) stderr.write(`${formatDiagnostic(d)}\n`);
    journals.push(invalidJournal(file, r.errors.map(formatDiagnostic)));
  }
  if (journals.length === 0) journals.push(...await runAll(loaded, o, stderr));
  stdout.write(`\n${summaryTable(journals)}`);
  await writeReports(journals, parsed.values.junit, parsed.values.json, stderr);
  return exitCode(journals);
}

async function runAll(suites: readonly LoadedSuite[], o: ChaosCommandOptions, stderr: Writable & { isTTY?: boolean }): Promise<SuiteJournal[]> {
  const abort = new AbortController();
  o.signal?.addEventListener('abort', () => abort.abort(), { once: true });
  let env: Environment | undefined;
  const killNow = (): void => env?.killNow();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (++interrupts === 1) {
      stderr.write(`\npilotfish chaos: ${sig}: stopping, cleaning up (again to force)\n`);
      abort.abort();
      return;
    }
    killNow();
    process.exit(130);
  };
  const handle = o.handleSignals ?? true;
  if (handle) { process.on('SIGINT', onSignal); process.on('SIGTERM', onSignal); }
  process.on('exit', killNow);
  const progress = createProgressReporter({ out: stderr });
  const journals: SuiteJournal[] = [];
  try {
    for (const s of suites) {
      if (abort.signal.aborted) break;
      stderr.write(`\n● ${s.suite.name} (${s.file})\n`);
      const journal = await runSuite(s, { signal: abort.signal, progress, onEnvironment: (e) => { env = e; }, ...(o.cli ? { cli: o.cli } : {}) });
      if (journal.skipped) stderr.write(`  skipped: ${journal.skipped}\n`);
      journals.push(journal);
    }
  } finally {
    progress.close();
    if (handle) { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); }
    process.off('exit', killNow);
  }
  return journals;
}

async function writeReports(journals: readonly SuiteJournal[], junit: string | undefined, json: string | undefined, stderr: Writable): Promise<void> {
  const write = async (file: string, content: string): Promise<void> => {
    try {
      await mkdir(path.dirname(path.resolve(file)), { recursive: true });
      await writeFile(file, content);
    } catch (err) {
      stderr.write(`pilotfish chaos: cannot write ${file}: ${(err as Error).message}\n`);
    }
  };
  if (junit) await write(junit, junitXml(journals));
  if (json) await write(json, `${JSON.stringify({ version: 1, suites: journals }, null, 2)}\n`);
}

function exitCode(journals: readonly SuiteJournal[]): number {
  if (journals.some((j) => j.outcome === 'interrupted')) return 130;
  if (journals.some((j) => j.outcome === 'invalid' || j.outcome === 'environment-failed')) return 2;
  return journals.every((j) => j.outcome === 'passed' || j.outcome === 'skipped') ? 0 : 1;
}

function invalidJournal(file: string, errors: string[]): SuiteJournal {
  return { suite: path.basename(file), file, startedAt: new Date().toISOString(), durationMs: 0, phases: [], outcome: 'invalid', errors };
}
