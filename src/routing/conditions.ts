/**
 * Compiled request conditions: each policy condition (method, header, query parameter, JSON body
 * field) becomes one small object built once per snapshot, with a test for the hot path and a label
 * and an `observe` for `explain`. Header names are matched case-insensitively (HTTP), values, query
 * names and JSON paths as written.
 */
import type { StringMatchPolicy } from '../config/index.js';
import { compileJsonPath, jsonScalar, lookupJsonPath } from './json-body.js';
import { compileStringMatch, describeStringMatch } from './string-match.js';

export interface MatchInput {
  /** Host without port; matched case-insensitively. */
  host: string;
  /** Path without query string. */
  path: string;
  /** Raw query string without `?`, or ''. */
  query: string;
  method: string;
  /** Request headers with lower-case names (as Node gives them). */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /**
   * The request body parsed as JSON (see `parseJsonBody`), present only when the caller buffered a
   * JSON body of at most 64 KiB. Absent, every jsonBody condition fails.
   */
  json?: unknown;
}

/**
 * The query string of the request being decided, parsed at most once and only if a query condition
 * runs. One instance per router is reused for every decision (decisions are synchronous), so a
 * request whose routes have no query conditions allocates nothing for it.
 */
export class QueryScratch {
  private raw = '';
  private params: URLSearchParams | undefined;

  reset(raw: string): void {
    if (raw !== this.raw) { this.raw = raw; this.params = undefined; }
  }

  get(name: string): string | undefined {
    if (this.raw === '') return undefined;
    this.params ??= new URLSearchParams(this.raw);
    return this.params.get(name) ?? undefined;
  }
}

export type ConditionKind = 'method' | 'header' | 'query' | 'jsonBody';

export interface Condition {
  readonly kind: ConditionKind;
  /** Header name (lower case), query parameter name, JSON path, or '' for the method. */
  readonly key: string;
  /** For humans: `header x-canary exact "true"`. */
  readonly label: string;
  test(input: MatchInput, query: QueryScratch): boolean;
  /** The request's value the condition looked at, for `explain`. */
  observe(input: MatchInput, query: QueryScratch): string | undefined;
}

export function methodCondition(methods: readonly string[]): Condition {
  const set = new Set(methods);
  return {
    kind: 'method', key: '', label: `method in [${methods.join(', ')}]`,
    test: (input) => set.has(input.method),
    observe: (input) => input.method,
  };
}

export function headerCondition(name: string, m: StringMatchPolicy): Condition {
  const key = name.toLowerCase();
  const match = compileStringMatch(m);
  const read = (input: MatchInput): string | undefined => {
    const v = input.headers[key];
    return Array.isArray(v) ? v.join(',') : v;
  };
  return { kind: 'header', key, label: `header ${key} ${describeStringMatch(m)}`, test: (input) => match(read(input)), observe: read };
}

export function queryCondition(name: string, m: StringMatchPolicy): Condition {
  const match = compileStringMatch(m);
  return {
    kind: 'query', key: name, label: `query ${name} ${describeStringMatch(m)}`,
    test: (_input, query) => match(query.get(name)),
    observe: (_input, query) => query.get(name),
  };
}

/**
 * A field of the JSON body at a dotted path. Without a buffered body the condition fails whatever it
 * asks — even `present: false` — so a route that needs the body never matches a request without one.
 */
export function jsonBodyCondition(dotted: string, m: StringMatchPolicy): Condition {
  const path = compileJsonPath(dotted);
  const label = `jsonBody ${dotted} ${describeStringMatch(m)}`;
  const observe = (input: MatchInput): string | undefined => {
    if (input.json === undefined) return undefined;
    const v = lookupJsonPath(input.json, path);
    return v === undefined ? undefined : (jsonScalar(v) ?? JSON.stringify(v));
  };
  if ('present' in m) {
    const want = m.present;
    return {
      kind: 'jsonBody', key: dotted, label, observe,
      test: (input) => input.json !== undefined && (lookupJsonPath(input.json, path) !== undefined) === want,
    };
  }
  const match = compileStringMatch(m);
  return {
    kind: 'jsonBody', key: dotted, label, observe,
    test: (input) => {
      if (input.json === undefined) return false;
      const v = jsonScalar(lookupJsonPath(input.json, path));
      return v !== undefined && match(v);
    },
  };
}
