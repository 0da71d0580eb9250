/**
 * Compiled request conditions: each policy condition becomes one small closure, built once per
 * snapshot. Header names are matched case-insensitively (HTTP), values as written.
 */
import type { StringMatchPolicy } from '../config/index.js';
import { compileRegex } from './regex.js';

export interface MatchInput {
  /** Lower-cased host without port. */
  host: string;
  /** Path without query string. */
  path: string;
  /** Raw query string without `?`, or ''. */
  query: string;
  method: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

export type Condition = (input: MatchInput, query: () => URLSearchParams) => boolean;

export function compileStringMatch(m: StringMatchPolicy): (value: string | undefined) => boolean {
  if ('present' in m) return m.present ? (v) => v !== undefined : (v) => v === undefined;
  if ('exact' in m) { const want = m.exact; return (v) => v === want; }
  if ('prefix' in m) { const want = m.prefix; return (v) => v !== undefined && v.startsWith(want); }
  const r = compileRegex(m.regex);
  if (!r.ok) throw new Error(`regex ${m.regex}: ${r.error}`);
  const re = r.regex;
  return (v) => v !== undefined && re.test(v);
}

export function headerCondition(name: string, m: StringMatchPolicy): Condition {
  const key = name.toLowerCase();
  const test = compileStringMatch(m);
  return (input) => {
    const v = input.headers[key];
    return test(Array.isArray(v) ? v.join(',') : v);
  };
}

export function queryCondition(name: string, m: StringMatchPolicy): Condition {
  const test = compileStringMatch(m);
  return (_input, query) => test(query().get(name) ?? undefined);
}

export function methodCondition(methods: readonly string[]): Condition {
  const set = new Set(methods);
  return (input) => set.has(input.method);
}
