#!/usr/bin/env bash
# Instructions from exec to ready of a real sidecar, counted by valgrind's callgrind (deterministic
# to ~1%, where wall and CPU times of a start on a shared VM are not): the process runs as the image
# starts it (the V8 flag on node's command line, MALLOC_ARENA_MAX=1, no re-execution) and callgrind
# dumps its counts at the `listening` log line. Node's compile cache (src/cli/main.ts) is warmed first
# the way the image warms it: one start, outside callgrind, that exits cleanly on SIGTERM.
#   bench/startup-instructions.sh [POLICY_FILE] [RUNS]     (after npm run build; needs valgrind)
# Default policy: the bench's full policy (bench/lib.mjs) on bench/listeners.yaml; RUNS (default 1)
# runs one after another, one total per line. Knobs:
#   KEEP=DIR     keep each run's dump as DIR/ready-<i>.cg (`callgrind_annotate --inclusive=no` it,
#                or compare two builds function by function: bench/instructions-diff.mjs reads
#                a.cg and b.cg, so copy a baseline's dump to a.cg and this one's to b.cg with N=1)
#   ROOT=DIR     the build to start (default: this repository), e.g. a worktree of main
#   CACHE=cold   no compile cache (NODE_DISABLE_COMPILE_CACHE=1): what a first start pays
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=${ROOT:-$here}
runs=${2:-1}
node=$here/node_modules/node/bin/node
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
policy=${1:-}
if [ -z "$policy" ]; then
  policy=$work/policy.yaml
  $node --input-type=module -e "
    const { LISTENERS, POLICIES } = await import('$here/bench/lib.mjs');
    process.stdout.write('version: 1\n' + LISTENERS + POLICIES.full(9));" > "$policy"
fi
export NODE_COMPILE_CACHE=$work/compile-cache
if [ "${CACHE:-warm}" = cold ]; then
  export NODE_DISABLE_COMPILE_CACHE=1
else
  (cd "$root" && MALLOC_ARENA_MAX=1 PILOTFISH_REEXEC=0 exec $node --max-semi-space-size=8 dist/cli/main.js run --policy "$policy" --no-access-log 2> "$work/sidecar.log") &
  pid=$!
  for _ in $(seq 1 300); do grep -q '"listening"' "$work/sidecar.log" 2>/dev/null && break; sleep 0.1; done
  sleep 1  # the SIGTERM handler is set just after the `listening` line
  kill -TERM "$pid"; wait "$pid" || { echo "the warm-up start did not exit cleanly:" >&2; cat "$work/sidecar.log" >&2; exit 1; }
fi
for i in $(seq 1 "$runs"); do
  rm -f "$work"/cg* "$work/sidecar.log"
  (cd "$root" && MALLOC_ARENA_MAX=1 PILOTFISH_REEXEC=0 exec valgrind --tool=callgrind --smc-check=all-non-file \
    --callgrind-out-file="$work/cg" --log-file="$work/vg.log" \
    $node --max-semi-space-size=8 dist/cli/main.js run --policy "$policy" --no-access-log 2> "$work/sidecar.log") &
  pid=$!
  for _ in $(seq 1 1200); do grep -q '"listening"' "$work/sidecar.log" 2>/dev/null && break; sleep 0.1; done
  grep -q '"listening"' "$work/sidecar.log" || { echo "no listening line:" >&2; cat "$work/sidecar.log" "$work/vg.log" >&2; kill -KILL "$pid"; exit 1; }
  callgrind_control --dump=ready "$pid" > /dev/null 2>&1
  for _ in $(seq 1 600); do ls "$work"/cg.* > /dev/null 2>&1 && break; sleep 0.1; done
  # The dump's totals line is written last.
  for _ in $(seq 1 600); do grep -q '^totals:' "$work"/cg.* 2>/dev/null && break; sleep 0.1; done
  kill -KILL "$pid"; wait "$pid" 2>/dev/null || true
  dump=$(ls "$work"/cg.* | head -1)
  awk '/^totals:/ { print $2 }' "$dump"
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$dump" "$KEEP/ready-$i.cg"; fi
done
