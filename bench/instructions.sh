#!/usr/bin/env bash
# Instructions per request of a real sidecar, counted by valgrind's callgrind: deterministic, so a
# cost of a few percent shows where CPU-time runs on a shared VM cannot resolve it.
#   bench/instructions.sh POLICY_FILE [N]   (after npm run build; needs valgrind)
# The sidecar (policy routing Host `bench`) runs under callgrind twice: startup + 3,000 warm-up
# requests + 1,000, and the same + N (default 8,000); the difference of the two totals over N is its
# instructions per request in steady state. Compare two policies in the same way; between two runs
# of one policy the figure moves by ~1.5%.
set -euo pipefail
policy=$1; n=${2:-8000}
cd "$(dirname "$0")/.."
total() { # $1: extra requests after the warm-up; prints callgrind's instruction total
  local dir; dir=$(mktemp -d)
  PILOTFISH_REEXEC=0 valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file="$dir/cg" --log-file="$dir/vg.log" \
    node_modules/node/bin/node --max-semi-space-size=8 dist/cli/main.js run --policy "$policy" --no-access-log 2> "$dir/sidecar.log" &
  local pid=$!
  for _ in $(seq 1 120); do grep -q '"listening"' "$dir/sidecar.log" 2>/dev/null && break; sleep 1; done
  local port; port=$(grep '"listening"' "$dir/sidecar.log" | head -1 | sed 's/.*"outbound":\([0-9]*\).*/\1/')
  node_modules/node/bin/node bench/instructions-client.mjs "$port" $((3000 + $1)) 10
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  grep "I   refs" "$dir/vg.log" | awk '{gsub(",", "", $NF); print $NF}'
  rm -rf "$dir"
}
a=$(total 1000); b=$(total $((1000 + n)))
echo "$policy: $(( (b - a) / n )) instructions per request"
