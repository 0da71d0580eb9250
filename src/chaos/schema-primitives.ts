/**
 * Building blocks shared by the suite schema's parts: durations and percentages exactly as in the
 * policy (SPEC §4), comparisons (`>= 99.9%`), endpoint references (`reviews[1]`), metric expressions.
 * Each turns text into its parsed form at load time, so a typo is reported with file:line:col before
 * anything starts.
 */
import { z } from 'zod';
import { parseDuration } from '../config/index.js';
import { parseComparison, type ComparisonUnit } from './comparison.js';
import { parseMetricExpr, parseMetricQuery } from './metric-expr.js';

export const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(v)} (use e.g. 250ms, 1s, 2m, or milliseconds)`, input: v });
    return z.NEVER;
  }
  return ms;
});

export const percent = z.number().min(0).max(100);

export const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'names are [A-Za-z0-9_.-]');

export const comparison = (...units: ComparisonUnit[]) => z.string().transform((text, ctx) => {
  const c = parseComparison(text, units);
  if (typeof c === 'string') {
    ctx.addIssue({ code: 'custom', message: c, input: text });
    return z.NEVER;
  }
  return c;
});

export interface EndpointRef {
  /** The fake upstream (group of replicas). */
  readonly upstream: string;
  /** One replica; absent: every replica of the upstream. */
  readonly index?: number;
  readonly text: string;
}

/** `reviews[1]` (one replica) or `reviews` (all of them). Existence is checked against the environment later. */
export const endpointRef = z.string().transform((text, ctx): EndpointRef => {
  const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*)(?:\[(\d+)\])?$/.exec(text.trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `expected an endpoint such as reviews[0] or reviews (every replica), got ${JSON.stringify(text)}`, input: text });
    return z.NEVER;
  }
  return m[2] === undefined ? { upstream: m[1]!, text } : { upstream: m[1]!, index: Number(m[2]), text };
});

/** A string parsed by `parse`, which answers the value or an error message. */
function parsedBy<T extends object>(parse: (text: string) => T | string) {
  return z.string().transform((text, ctx) => {
    const v = parse(text);
    if (typeof v === 'string') {
      ctx.addIssue({ code: 'custom', message: v, input: text });
      return z.NEVER;
    }
    return v;
  });
}

export const metricExpr = parsedBy(parseMetricExpr);
export const metricQuery = parsedBy(parseMetricQuery);

/** Adds an issue unless exactly one of `keys` is present in `value`; `what` names them in the message. */
export function exactlyOne(value: object, keys: readonly string[], ctx: z.RefinementCtx, what = keys.join(' | ')): void {
  const present = keys.filter((k) => (value as Record<string, unknown>)[k] !== undefined);
  if (present.length === 1) return;
  ctx.addIssue({
    code: 'custom',
    message: present.length === 0 ? `expected one of ${what}` : `expected only one of ${what}, got ${present.join(' and ')}`,
    input: value,
  });
}
