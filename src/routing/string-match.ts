/**
 * One string condition (`exact | prefix | regex | present`) as a compiled test, a human label for
 * `explain`, and the implication check `validate` uses to prove one route shadows another.
 */
import type { StringMatchPolicy } from '../config/index.js';
import { compileRegex } from './regex.js';

export type StringTest = (value: string | undefined) => boolean;

export function compileStringMatch(m: StringMatchPolicy): StringTest {
  if ('present' in m) return m.present ? (v) => v !== undefined : (v) => v === undefined;
  if ('exact' in m) { const want = m.exact; return (v) => v === want; }
  if ('prefix' in m) { const want = m.prefix; return (v) => v !== undefined && v.startsWith(want); }
  const r = compileRegex(m.regex);
  if (!r.ok) throw new Error(`regex ${m.regex}: ${r.error}`);
  const re = r.regex;
  return (v) => v !== undefined && re.test(v);
}

/** `exact "true"`, `prefix "/v2"`, `regex "v[0-9]+"`, `present`, `absent`. */
export function describeStringMatch(m: StringMatchPolicy): string {
  if ('present' in m) return m.present ? 'present' : 'absent';
  if ('exact' in m) return `exact ${JSON.stringify(m.exact)}`;
  if ('prefix' in m) return `prefix ${JSON.stringify(m.prefix)}`;
  return `regex ${JSON.stringify(m.regex)}`;
}

/**
 * True only when every value satisfying `b` certainly satisfies `a` (b ⇒ a). Conservative: false
 * whenever it cannot be proved (two different regexes, say), so shadowing is only ever reported
 * when it is certain.
 */
export function stringMatchImplies(b: StringMatchPolicy, a: StringMatchPolicy): boolean {
  if ('present' in a) {
    if (a.present) return !('present' in b) || b.present;
    return 'present' in b && !b.present;
  }
  if ('exact' in a) return 'exact' in b && b.exact === a.exact;
  if ('prefix' in a) {
    if ('exact' in b) return b.exact.startsWith(a.prefix);
    if ('prefix' in b) return b.prefix.startsWith(a.prefix);
    return false;
  }
  if ('regex' in b) return b.regex === a.regex;
  if ('exact' in b) {
    const r = compileRegex(a.regex);
    return r.ok && r.regex.test(b.exact);
  }
  return false;
}
