/**
 * Thresholds in suites are written as comparisons a reader can check at a glance: `>= 99.9%`,
 * `< 250ms`, `== 0`. The unit is part of the text, so `>= 5` (a count) and `>= 5%` (a share) can
 * never be confused. Durations follow the policy's syntax (`250ms`, `1s`; bare numbers are ms where a
 * duration is expected).
 */
import { parseDuration } from '../config/index.js';

export type ComparisonOp = '==' | '!=' | '<' | '<=' | '>' | '>=';
/** What the number measures: a share of requests (0–100), a duration in ms, or a plain count. */
export type ComparisonUnit = 'percent' | 'ms' | 'count';

export interface Comparison {
  readonly op: ComparisonOp;
  readonly value: number;
  readonly unit: ComparisonUnit;
  /** The text as written, for reports. */
  readonly text: string;
}

const FORM = /^(==|!=|<=|>=|<|>)\s*(\S+)$/;

/** Parses `text`; returns an error message when it is not a comparison in one of `units`. */
export function parseComparison(text: string, units: readonly ComparisonUnit[]): Comparison | string {
  const m = FORM.exec(text.trim());
  const expected = `expected a comparison such as ${units.map(example).join(' or ')}`;
  if (!m) return `${expected}, got ${JSON.stringify(text)}`;
  const op = m[1] as ComparisonOp;
  const operand = m[2]!;
  if (operand.endsWith('%')) {
    const value = Number(operand.slice(0, -1));
    if (!units.includes('percent')) return `${expected}: a percentage does not fit here`;
    if (!Number.isFinite(value) || value < 0 || value > 100) return `percentage must be within 0–100, got ${operand}`;
    return { op, value, unit: 'percent', text: `${op} ${operand}` };
  }
  const number = /^-?\d+(\.\d+)?$/.test(operand) ? Number(operand) : undefined;
  if (units.includes('ms')) {
    const ms = parseDuration(number ?? operand);
    if (ms !== undefined) return { op, value: ms, unit: 'ms', text: `${op} ${operand}` };
  }
  if (units.includes('count') && number !== undefined) return { op, value: number, unit: 'count', text: `${op} ${operand}` };
  return `${expected}, got ${JSON.stringify(text)}`;
}

export function compare(observed: number, c: Pick<Comparison, 'op' | 'value'>): boolean {
  switch (c.op) {
    case '==': return observed === c.value;
    case '!=': return observed !== c.value;
    case '<': return observed < c.value;
    case '<=': return observed <= c.value;
    case '>': return observed > c.value;
    case '>=': return observed >= c.value;
  }
}

/** Formats an observed value in the comparison's unit, precise enough to see why it failed. */
export function formatObserved(value: number, unit: ComparisonUnit): string {
  if (unit === 'percent') return `${round(value, value > 99 && value < 100 ? 3 : 2)}%`;
  if (unit === 'ms') return value >= 1000 ? `${round(value / 1000, 3)}s` : `${round(value, 1)}ms`;
  return String(round(value, 3));
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function example(unit: ComparisonUnit): string {
  return unit === 'percent' ? '">= 99.9%"' : unit === 'ms' ? '"< 250ms"' : '">= 1"';
}
