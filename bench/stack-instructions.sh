#!/usr/bin/env bash
# Instructions per request of the full policy's route stack alone (rescue → destination → fault →
# timeout → retry → try with pool, breaker and the engine's seam), counted by valgrind's callgrind in
# one process with no sockets (bench/stack-instructions-client.mjs: the engine answers on the next
# turn of the event loop): the figure for a change to the stack's own work, which a whole sidecar's
# count (bench/instructions.sh, ~300 k per request, most of it I/O, moving ~1.5% run to run) cannot
# resolve. Two runs, of A and B requests (defaults 5,000 and 25,000; the first A are the warm-up in
# both), at once (two cores); prints (b − a) / (B − A).
#   bench/stack-instructions.sh [ROOT] [A] [B]     ROOT: a checkout whose dist/ is built (default: this one)
#   STACK_POLICY=no-breaker  the same policy without its circuit breaker
#   KEEP=DIR keeps both callgrind files as DIR/a.cg and DIR/b.cg (node bench/instructions-diff.mjs DIR B−A)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "${1:-$here}" && pwd); a=${2:-5000}; b=${3:-25000}
node=$here/node_modules/node/bin/node
count() { # $1: requests, $2: the run's name; prints callgrind's instruction total
  local dir; dir=$(mktemp -d)
  valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file="$dir/cg" --log-file="$dir/vg.log" \
    "$node" --max-semi-space-size=8 "$here/bench/stack-instructions-client.mjs" "$root" "$1" >&2
  grep "I   refs" "$dir/vg.log" | awk '{gsub(",", "", $NF); print $NF}'
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$dir/cg" "$KEEP/$2.cg"; fi
  rm -rf "$dir"
}
out=$(mktemp -d)
count "$a" a > "$out/a" & count "$b" b > "$out/b"; wait
ta=$(tail -1 "$out/a"); tb=$(tail -1 "$out/b"); rm -rf "$out"
echo "$root: $(( (tb - ta) / (b - a) )) instructions per request through the route stack"
