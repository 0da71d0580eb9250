/**
 * Applies (or removes) the capture rules in the current network namespace with iptables-save and
 * iptables-restore. The commands run through an injected {@link Exec} so the decision logic is
 * testable without root; {@link spawnExec} is the real one.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { CaptureOptions, Family } from './capture-options.js';
import { buildRuleSet, parseInstalled, renderCleanup, renderRestore } from './iptables-rules.js';

export interface ExecResult {
  /** Exit code; -1 when the program could not be started (then `stderr` says why). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export type Exec = (cmd: string, args: readonly string[], input?: string) => Promise<ExecResult>;

/** Runs a program, feeding `input` on stdin. Never rejects: failures come back as a result. */
export const spawnExec: Exec = (cmd, args, input) => new Promise((resolve) => {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  // A program that exits without reading stdin makes the write fail with EPIPE: its exit code tells.
  child.stdin.on('error', () => {});
  child.on('error', (err) => resolve({ code: -1, stdout, stderr: `${cmd}: ${err.message}` }));
  child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  child.stdin.end(input ?? '');
});

/** Which iptables flavour to call: the distribution's default, or explicitly nf_tables or legacy. */
export type Backend = 'default' | 'nft' | 'legacy';

export function tools(family: Family, backend: Backend): { save: string; restore: string } {
  const base = family === 4 ? 'iptables' : 'ip6tables';
  const flavour = backend === 'default' ? '' : `-${backend}`;
  return { save: `${base}${flavour}-save`, restore: `${base}${flavour}-restore` };
}

/** True when this network namespace has IPv6 (the kernel lists its v6 addresses there). */
export function ipv6Enabled(): boolean {
  return existsSync('/proc/net/if_inet6');
}

export interface FamilyPlan {
  readonly family: Family;
  /** When true a failure is reported and skipped instead of failing the run (`--ipv6 auto`). */
  readonly optional: boolean;
}

export interface FamilyOutcome {
  readonly family: Family;
  readonly status: 'applied' | 'removed' | 'nothing-to-remove' | 'skipped';
  /** The restore input that was applied (or would remove the rules). */
  readonly rules?: string;
  /** Why a family was skipped. */
  readonly reason?: string;
}

export class CaptureError extends Error {
  constructor(message: string, readonly family: Family) {
    super(message);
    this.name = 'CaptureError';
  }
}

interface RunOptions {
  readonly backend: Backend;
  readonly exec: Exec;
}

/** Installs the rules for each planned family; re-running replaces them (no duplicates). */
export async function applyCapture(options: CaptureOptions, plan: readonly FamilyPlan[], run: RunOptions): Promise<FamilyOutcome[]> {
  const outcomes: FamilyOutcome[] = [];
  for (const { family, optional } of plan) {
    try {
      outcomes.push(await applyFamily(options, family, run));
    } catch (err) {
      if (!(err instanceof CaptureError) || !optional) throw err;
      outcomes.push({ family, status: 'skipped', reason: err.message });
    }
  }
  return outcomes;
}

async function applyFamily(options: CaptureOptions, family: Family, run: RunOptions): Promise<FamilyOutcome> {
  const { save, restore } = tools(family, run.backend);
  let installed = parseInstalled(await dump(save, family, run.exec));
  // Exactly one of each jump: an earlier run of ours; the restore below re-declares (flushes) the
  // chains and refills them. Anything else but none (a half-removed or duplicated set): start clean.
  const once = installed.jumps.every((n) => n === 1);
  if (!once && installed.jumps.some((n) => n > 0)) {
    await restoreOrThrow(restore, renderCleanup(installed)!, family, run.exec);
    installed = parseInstalled(await dump(save, family, run.exec));
  }
  const rules = renderRestore(buildRuleSet(options, family), !once);
  await restoreOrThrow(restore, rules, family, run.exec);
  return { family, status: 'applied', rules };
}

/** Removes our chains and jumps, leaving every other rule in the table alone. */
export async function removeCapture(plan: readonly FamilyPlan[], run: RunOptions): Promise<FamilyOutcome[]> {
  const outcomes: FamilyOutcome[] = [];
  for (const { family, optional } of plan) {
    try {
      const { save, restore } = tools(family, run.backend);
      const input = renderCleanup(parseInstalled(await dump(save, family, run.exec)));
      if (input === undefined) { outcomes.push({ family, status: 'nothing-to-remove' }); continue; }
      await restoreOrThrow(restore, input, family, run.exec);
      outcomes.push({ family, status: 'removed', rules: input });
    } catch (err) {
      if (!(err instanceof CaptureError) || !optional) throw err;
      outcomes.push({ family, status: 'skipped', reason: err.message });
    }
  }
  return outcomes;
}

async function dump(save: string, family: Family, exec: Exec): Promise<string> {
  const r = await exec(save, ['-t', 'nat']);
  if (r.code !== 0) throw new CaptureError(`${save} -t nat failed (exit ${r.code}): ${r.stderr.trim()}`, family);
  return r.stdout;
}

async function restoreOrThrow(restore: string, input: string, family: Family, exec: Exec): Promise<void> {
  const r = await exec(restore, ['--noflush'], input);
  if (r.code !== 0) throw new CaptureError(`${restore} --noflush failed (exit ${r.code}): ${r.stderr.trim()}`, family);
}
