/**
 * Policy regexes: paths and headers are attacker controlled, and a backtracking engine turns
 * `^(a+)+$` into seconds of CPU per request. Pilotfish uses V8's own linear-time engine rather than
 * `re2` (a native addon, built against the system Node's headers instead of the pinned Node 24's) or
 * `re2-wasm` (a WebAssembly blob, a copy per string across the boundary).
 *
 * Two V8 flags, both set here before any policy regex is compiled:
 * - `--enable-experimental-regexp-engine` enables the `l` flag. Every policy regex is first compiled
 *   with `l`: the linear engine rejects the constructs it cannot run in linear time (backreferences,
 *   lookahead, counted repetitions too large to unroll), which `validate` reports as errors.
 * - `--enable-experimental-regexp-engine-on-excessive-backtracks`: the regex the router runs is the
 *   same source without `l`, on V8's ordinary backtracking engine, which V8 aborts after
 *   `BACKTRACK_LIMIT` backtracks and re-runs on the linear engine. The linear engine costs 0.3–2 µs
 *   per test even when the first character already fails, the ordinary one 20–70 ns; with the
 *   fallback a catastrophic input costs what the linear engine costs (measured within 10 % of `l`
 *   alone, e.g. `(x+x+)+y` on 16 KB: 2.5 ms vs 2.3 ms) while ordinary matching keeps the fast engine.
 *   The fallback applies only to regexes the linear engine can run — which every accepted policy
 *   regex is, because of the check above.
 * The flags are process-wide and also give every other linear-compatible regex in the process the
 * same protection; results never change, only which engine computes them.
 */
import v8 from 'node:v8';

/** Backtracks one execution may take before V8 re-runs it on the linear engine (V8's default: 50 000). */
const BACKTRACK_LIMIT = 1000;

v8.setFlagsFromString('--enable-experimental-regexp-engine');
v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
v8.setFlagsFromString(`--regexp-backtracks-before-fallback=${BACKTRACK_LIMIT}`);

export type RegexResult = { ok: true; regex: RegExp } | { ok: false; error: string };

/**
 * Compiles `source` as a full match (Envoy's and Istio's regex semantics: `/api/.*` must match the
 * whole path, not a substring), accepted only if the linear engine can run it.
 */
export function compileRegex(source: string): RegexResult {
  const full = `^(?:${source})$`;
  try {
    new RegExp(full, 'l');
  } catch (err) {
    const msg = (err as Error).message;
    return { ok: false, error: msg.includes('linear') ? 'not executable in linear time (backreferences, lookahead and large counted repetitions are not supported)' : msg };
  }
  return { ok: true, regex: new RegExp(full) };
}
