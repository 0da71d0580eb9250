/**
 * Loads a policy file: read (async) → parse YAML or JSON with positions → schema → cross-reference
 * checks. Every problem carries `file:line:col key.path: message`. Never throws for a bad policy:
 * the caller decides whether a problem is fatal (start, `validate`) or keeps the last good one (reload).
 */
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { policySchema, type Policy } from './schema.js';
import { formatPath, positionOf, readYaml, type KeyPath } from './positions.js';
import { validateRefs } from './validate-refs.js';
import type { PolicyMemory } from './policy-memory.js';

/** Syntax errors listed (the parser's later ones are mostly echoes of the first). */
const MAX_SYNTAX_ERRORS = 5;

export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
  severity: 'error' | 'warning';
}

export type LoadResult =
  /** `value`: the document the text parses to, before the schema (what a fleet generation carries as `data`). */
  | { ok: true; policy: Policy; warnings: Diagnostic[]; source: string; value: unknown }
  | { ok: false; errors: Diagnostic[]; warnings: Diagnostic[] };

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col} ${d.path}: ${d.severity === 'warning' ? 'warning: ' : ''}${d.message}`;
}

/** What the policy will run with, where that changes what is valid. */
export interface PolicyContext {
  /**
   * Whether a fleet (Redis) is configured: `true` for `run --fleet`, `publish` and fleet generations,
   * `false` for `run` without one. Unknown (undefined) for `validate`, which cannot tell: what needs
   * a fleet is then a warning instead of an error.
   */
  readonly fleet?: boolean | undefined;
}

export async function loadPolicyFile(file: string, context: PolicyContext = {}): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return fail(file, 1, 1, '(file)', `cannot read policy: ${e.code ?? e.message}`);
  }
  return parsePolicy(text, file, context);
}

/**
 * Parses policy text; `file` only names the source in diagnostics.
 *
 * `value`, when given, is what `text` parses to, parsed already by whoever sent it (a fleet
 * generation's `data`, written by `publish` from the same text): it is checked as it is — schema and
 * cross-references, everything `validate` checks — and the YAML parse, most of a reload's CPU, is
 * skipped. Positions are only needed to report a problem, so any error or warning sends the whole
 * text through the full path, whose diagnostics name the place (file:line:col) as always.
 *
 * `memory`, when given, validates part by part and skips the parts unchanged since the last policy
 * it validated (`policy-memory.ts`); whatever it cannot pass goes through the whole schema, so
 * every diagnostic is the same as without it.
 */
export function parsePolicy(text: string, file: string, context: PolicyContext = {}, value?: unknown, memory?: PolicyMemory): LoadResult {
  if (value !== undefined && value !== null) {
    const policy = memory ? memory.check(value) : schemaCheck(value);
    if (policy && validateRefs(policy, context).length === 0) return { ok: true, policy, warnings: [], source: text, value };
  }
  const read = readYaml(text, MAX_SYNTAX_ERRORS);
  if (!read.ok) {
    const errors = read.errors.map((e) => ({ file, line: e.position.line, col: e.position.col, path: '(syntax)', message: e.message, severity: 'error' as const }));
    return { ok: false, errors, warnings: [] };
  }
  const { doc, lines, value: raw } = read;
  if (raw === null || raw === undefined) return fail(file, 1, 1, '(root)', 'policy is empty');
  const remembered = memory?.check(raw);
  const parsed = remembered ? { success: true as const, data: remembered } : policySchema.safeParse(raw);
  const at = (path: KeyPath, message: string, severity: Diagnostic['severity'], atKey = false): Diagnostic => {
    const pos = positionOf(doc, lines, path, atKey);
    return { file, line: pos.line, col: pos.col, path: formatPath(path), message, severity };
  };
  if (!parsed.success) {
    const has = (path: KeyPath): boolean => doc.hasIn(path);
    return { ok: false, errors: parsed.error.issues.flatMap((issue) => fromIssue(issue, at, has)), warnings: [] };
  }
  const problems = validateRefs(parsed.data, context);
  const errors = problems.filter((p) => p.severity === 'error').map((p) => at(p.path, p.message, 'error', p.atKey));
  const warnings = problems.filter((p) => p.severity === 'warning').map((p) => at(p.path, p.message, 'warning', p.atKey));
  if (errors.length > 0) return { ok: false, errors, warnings };
  return { ok: true, policy: parsed.data, warnings, source: text, value: raw };
}

function schemaCheck(value: unknown): Policy | undefined {
  const checked = policySchema.safeParse(value);
  return checked.success ? checked.data : undefined;
}

type At = (path: KeyPath, message: string, severity: Diagnostic['severity'], atKey?: boolean) => Diagnostic;

function fromIssue(issue: z.core.$ZodIssue, at: At, has: (path: KeyPath) => boolean): Diagnostic[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => at([...path, key], `unknown key "${key}"`, 'error', true));
  }
  if (issue.code === 'invalid_type' && !has(path)) {
    return [at(path, `missing required key (expected ${issue.expected})`, 'error')];
  }
  return [at(path, issue.message, 'error')];
}

function fail(file: string, line: number, col: number, path: string, message: string): LoadResult {
  return { ok: false, errors: [{ file, line, col, path, message, severity: 'error' }], warnings: [] };
}
