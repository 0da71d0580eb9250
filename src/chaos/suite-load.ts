/**
 * Loads a chaos suite: read → YAML with positions → schema → cross-references → the policies it
 * carries (inline or files, placeholders filled with stand-in addresses) checked by the policy loader.
 * Every problem is reported as `file:line:col key.path: message`, before anything is started.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import type { z } from 'zod';
import { formatDiagnostic, parsePolicy, type Diagnostic } from '../config/index.js';
import { formatPath, positionOf, readYaml, type KeyPath } from '../config/positions.js';
import { checkPlaceholders, dummyTable, fillPlaceholders, fillText, type EndpointTable } from './placeholders.js';
import { checkSuiteRefs } from './suite-refs.js';
import { suiteSchema, type Suite } from './suite-schema.js';

export interface LoadedSuite {
  readonly suite: Suite;
  readonly file: string;
  /** Relative paths in the suite (policy files) resolve against this directory. */
  readonly dir: string;
}

export type SuiteLoadResult = { ok: true; loaded: LoadedSuite } | { ok: false; errors: Diagnostic[] };

export { formatDiagnostic };

export async function loadSuiteFile(file: string): Promise<SuiteLoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { ok: false, errors: [diag(file, 1, 1, '(file)', `cannot read suite: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)] };
  }
  return parseSuite(text, file);
}

/** Parses suite text; `file` names it in diagnostics and anchors relative policy paths. */
export async function parseSuite(text: string, file: string): Promise<SuiteLoadResult> {
  // Only the first syntax error: the parser's later errors are mostly echoes of it.
  const read = readYaml(text, 1);
  if (!read.ok) return { ok: false, errors: read.errors.map((e) => diag(file, e.position.line, e.position.col, '(syntax)', e.message)) };
  const { doc, lines, value: raw } = read;
  if (raw === null || raw === undefined) return { ok: false, errors: [diag(file, 1, 1, '(root)', 'suite is empty')] };
  const at = (p: KeyPath, message: string, atKey = false): Diagnostic => {
    const pos = positionOf(doc, lines, p, atKey);
    return diag(file, pos.line, pos.col, formatPath(p), message);
  };
  const parsed = suiteSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, errors: parsed.error.issues.flatMap((i) => fromIssue(i, [], at, (p) => doc.hasIn(p))) };
  const suite = parsed.data;
  const errors = checkSuiteRefs(suite, raw).map((p) => at(p.path, p.message));
  const dir = path.dirname(path.resolve(file));
  if (errors.length === 0) errors.push(...await checkPolicies(suite, dir, at));
  return errors.length > 0 ? { ok: false, errors } : { ok: true, loaded: { suite, file, dir } };
}

type At = (path: KeyPath, message: string, atKey?: boolean) => Diagnostic;

function fromIssue(issue: z.core.$ZodIssue, prefix: KeyPath, at: At, has: (p: KeyPath) => boolean): Diagnostic[] {
  const p = [...prefix, ...issue.path.filter((s): s is string | number => typeof s !== 'symbol')];
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => at([...p, key], `unknown key "${key}"`, true));
  if (issue.code === 'invalid_type' && !has(p)) return [at(p, `missing required key (expected ${issue.expected})`)];
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // A union of shapes (one block or a list of them): report the branch whose type fitted, not "Invalid input".
    const fitting = issue.errors.filter((branch) => !(branch.length === 1 && branch[0]!.code === 'invalid_type' && branch[0]!.path.length === 0));
    if (fitting.length === 1) return fitting[0]!.flatMap((i) => fromIssue(i, p, at, has));
  }
  return [at(p, issue.message)];
}

/** Checks every policy the suite carries, as the sidecar would load it. */
async function checkPolicies(suite: Suite, dir: string, at: At): Promise<Diagnostic[]> {
  const local = suite.environment.local;
  if (!local) return [];
  const replicas = Object.fromEntries(Object.entries(local.upstreams).map(([n, u]) => [n, u.replicas]));
  const table = dummyTable(local.upstreams);
  const out: Diagnostic[] = [];
  // Policies of a fleet environment run on a fleet: what needs one (shared sessions) is valid there.
  const fleet = local.fleet !== undefined;
  const check = async (inline: Record<string, unknown> | undefined, file: string | undefined, where: KeyPath): Promise<void> => {
    if (inline) out.push(...checkInline(inline, table, where, at, fleet));
    else if (file) out.push(...await checkFile(path.resolve(dir, file), replicas, table, where, at, fleet));
  };
  await check(local.policy, local.policyFile, ['environment', 'local', local.policy ? 'policy' : 'policyFile']);
  for (const [i, x] of suite.experiments.entries()) {
    for (const [list, actions] of [['inject', x.inject], ['rollback', x.rollback]] as const) {
      for (const [j, a] of actions.entries()) {
        if (a.policy) await check(a.policy.inline, a.policy.file, ['experiments', i, list, j, 'policy', a.policy.inline ? 'inline' : 'file']);
        if (a.publish) await check(a.publish.inline, a.publish.file, ['experiments', i, list, j, 'publish', a.publish.inline ? 'inline' : 'file']);
      }
    }
  }
  return out;
}

function checkInline(policy: Record<string, unknown>, table: EndpointTable, where: KeyPath, at: At, fleet: boolean): Diagnostic[] {
  const r = parsePolicy(stringify(fillPlaceholders(policy, table)), 'policy', { fleet });
  if (r.ok) return [];
  return r.errors.map((d) => at([...where, ...parsePathString(d.path)], d.message));
}

async function checkFile(file: string, replicas: Record<string, number>, table: EndpointTable, where: KeyPath, at: At, fleet: boolean): Promise<Diagnostic[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return [at(where, `cannot read policy ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)];
  }
  const placeholderErrors = checkPlaceholders(text, replicas);
  if (placeholderErrors.length > 0) return placeholderErrors.map((m) => at(where, `${file}: ${m}`));
  const r = parsePolicy(fillText(text, table), file, { fleet });
  return r.ok ? [] : r.errors;
}

/** `routes[0].to` → ['routes', 0, 'to'], the inverse of formatPath. */
export function parsePathString(p: string): KeyPath {
  if (p === '(root)' || p === '(syntax)') return [];
  const out: Array<string | number> = [];
  for (const m of p.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

function diag(file: string, line: number, col: number, keyPath: string, message: string): Diagnostic {
  return { file, line, col, path: keyPath, message, severity: 'error' };
}

