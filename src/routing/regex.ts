/**
 * Policy regexes run on V8's linear-time engine (the `l` flag): paths and headers are attacker
 * controlled, and a backtracking engine turns `^(a+)+$` into seconds of CPU per request. The engine is
 * built into the runtime (no native addon to build against the right Node headers, no WebAssembly
 * blob to load), is as fast as re2-wasm for the short inputs a router sees, and rejects exactly the
 * constructs that cannot run in linear time (backreferences, lookaround) — which `validate` reports.
 * The flag must be set before the first `l` regex is compiled; setting it at runtime is supported.
 */
import v8 from 'node:v8';

v8.setFlagsFromString('--enable-experimental-regexp-engine');

export type RegexResult = { ok: true; regex: RegExp } | { ok: false; error: string };

/**
 * Compiles `source` as a full match (Envoy's and Istio's regex semantics: `/api/.*` must match the
 * whole path, not a substring) on the linear engine.
 */
export function compileRegex(source: string): RegexResult {
  try {
    return { ok: true, regex: new RegExp(`^(?:${source})$`, 'l') };
  } catch (err) {
    const msg = (err as Error).message;
    return { ok: false, error: msg.includes('linear') ? 'not executable in linear time (backreferences and lookaround are not allowed)' : msg };
  }
}
