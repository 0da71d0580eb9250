/**
 * How the sidecar's process is started: V8 flags and the allocator's environment, both read before
 * any of our code runs.
 *
 * The young generation is what a busy Node process's RSS is made of: by default V8 grows each
 * semi-space up to 32 MB on a machine with gigabytes free (64 MB of new space plus what it promotes),
 * and it keeps what it grew; a proxy's in-flight requests need a few MB. `--max-semi-space-size=8`
 * bounds the new space at 16 MB and still holds what 500 connections have in flight: at 2–4 MB those
 * objects are promoted and the old space grows instead (RSS after a c500 load ~190 MB at 4, ~160 MB
 * at 8, ~200 MB unbounded; after c50 ~117 MB at 4, ~127 MB at 8 — measured on a shared machine,
 * docs/benchmarks.md). V8 reads the size when it creates the heap, so `v8.setFlagsFromString` at run
 * time is too late.
 *
 * `MALLOC_ARENA_MAX=1`: glibc keeps a malloc arena per thread (up to 8 × cores), and each keeps what
 * it once held; with one arena the per-connection native state of a load is reused instead (RSS
 * 73 / 118 / 169 MiB idle / after c50 / after c500 against 75 / 125 / 205, at 0.99× the CPU per
 * request, docs/benchmarks.md). glibc reads it when the process starts.
 *
 * `MALLOC_TRIM_THRESHOLD_=131072 MALLOC_MMAP_THRESHOLD_=4194304`: fixed thresholds turn off glibc's
 * dynamic ones, which a start raises (a large buffer freed while starting lifts the trim threshold
 * to twice its size), so the free top of the heap left by the start is returned instead of kept:
 * ~0.9 MiB less idle RSS, nothing worse after the loads, and the same instructions per request
 * (368 k vs 369 k on the full policy, `bench/instructions.sh` at N = 8,000; docs/benchmarks.md).
 *
 * The container image and `npm start` set both on node's command line and in its environment; any
 * other start (`npx pilotfish run`, `node dist/cli/main.js run`) without a young-generation size
 * re-executes itself once with the flag and `SIDECAR_ENV` through `process.execve` — the same process
 * id, nothing left behind, one more Node startup (~40 ms on a quiet machine). A young-generation size
 * given by the user (command line or NODE_OPTIONS) wins, and so does a `MALLOC_ARENA_MAX` of theirs;
 * `PILOTFISH_REEXEC=0` turns the re-execution off. A process started with a young-generation size
 * but without `MALLOC_ARENA_MAX` does not re-execute for it: a whole second Node startup to save a
 * few MiB after a load is a trade the one who chose the flags made.
 */
export const SIDECAR_V8_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

/** The environment the sidecar runs with, set before node starts (the image's ENV, `npm start`, the re-execution). */
export const SIDECAR_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1', MALLOC_TRIM_THRESHOLD_: '131072', MALLOC_MMAP_THRESHOLD_: '4194304' };

const SIZING = ['--max-semi-space-size', '--max-heap-size'];

/** Whether this process already runs with a young-generation size (ours or the user's). */
export function hasHeapSizing(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)];
  // V8 takes `--max_semi_space_size` as well as `--max-semi-space-size`.
  return given.some((raw) => {
    const a = raw.replaceAll('_', '-');
    return SIZING.some((flag) => a === flag || a.startsWith(`${flag}=`));
  });
}

/** The re-executed process's environment: `SIDECAR_ENV` under what the user set, and the marker that stops a second re-execution. */
export function reexecEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...SIDECAR_ENV, ...env, PILOTFISH_REEXECUTED: '1' };
}

/** Replaces this process with one started with `SIDECAR_V8_FLAGS` and `SIDECAR_ENV`, when it needs to. Returns only when it does not. */
export function reexecWithV8Flags(): void {
  const env = process.env;
  if (env.PILOTFISH_REEXEC === '0' || env.PILOTFISH_REEXECUTED === '1') return;
  if (hasHeapSizing(process.execArgv, env.NODE_OPTIONS) || typeof process.execve !== 'function') return;
  process.execve(process.execPath, [process.execPath, ...SIDECAR_V8_FLAGS, ...process.execArgv, ...process.argv.slice(1)], reexecEnv(env));
}
