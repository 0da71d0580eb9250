#!/usr/bin/env bash
# Instructions per unary gRPC call through a real sidecar, counted by valgrind's callgrind: the
# repeatable counterpart of `npm run bench:grpc`'s CPU per call (which a shared VM turns to noise).
#   bench/grpc-instructions.sh [N]     (after npm run build; needs valgrind and h2load)
# The route is bench:grpc's (h2c in, `protocol: http2` out to bench/grpc-server.mjs, the grpc-js Echo
# server), the access log on and written to a file as bench:grpc does. The sidecar runs under
# callgrind twice: startup + 2,000 warm-up calls + 1,000, and the same + N (default 4,000), sent by
# h2load (2 connections × 5 streams, the Echo request bench:grpc sends); the difference of the two
# totals over N is its instructions per call in steady state. Knobs:
#   ROOT=DIR   measure the build in DIR (its dist/ and node_modules) — e.g. a `git worktree` of an
#              older commit, built — with this script's server and client; default this checkout
#   KEEP=DIR   keep both callgrind files as DIR/a.cg and DIR/b.cg (bench/instructions-diff.mjs DIR N)
#   The process's environment passes through (OTEL_* turns tracing on).
set -euo pipefail
n=${1:-4000}
here=$(cd "$(dirname "$0")/.." && pwd)
root=${ROOT:-$here}
node=$root/node_modules/node/bin/node
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
# One Echo request as gRPC frames it: flag 0, 4-byte length 9, then the protobuf (text = "bench", n = 1).
printf '\x00\x00\x00\x00\x09\x0a\x05bench\x10\x01' > "$work/unary.bin"
"$here/node_modules/node/bin/node" "$here/bench/grpc-server.mjs" > "$work/server.port" &
server=$!
for _ in $(seq 1 100); do [ -s "$work/server.port" ] && break; sleep 0.1; done
{ echo 'version: 1'; cat "$here/bench/listeners.yaml"; cat <<EOF
upstreams:
  echo: { protocol: http2, endpoints: [{ address: "127.0.0.1:$(cat "$work/server.port")" }] }
routes:
  - { name: echo, to: [{ upstream: echo }] }
EOF
} > "$work/policy.yaml"
calls() { # $1: calls, $2: port
  local out; out=$(h2load -n "$1" -c 2 -m 5 -d "$work/unary.bin" -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$2/pilotfish.test.Echo/Unary")
  grep -q " $1 succeeded" <<< "$out" || { echo "not every call succeeded: $(grep succeeded <<< "$out")" >&2; exit 1; }
}
total() { # $1: calls after the warm-up, $2: the run's name; prints callgrind's instruction total
  local dir; dir=$(mktemp -d -p "$work")
  (cd "$root" && PILOTFISH_REEXEC=0 exec valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file="$dir/cg" --log-file="$dir/vg.log" \
    "$node" --max-semi-space-size=8 dist/cli/main.js run --policy "$work/policy.yaml" 2> "$dir/sidecar.log" > "$dir/access.log") &
  local pid=$! port=''
  for _ in $(seq 1 600); do
    if grep -q '"listening"' "$dir/sidecar.log" 2>/dev/null; then port=$(grep '"listening"' "$dir/sidecar.log" | head -1 | sed 's/.*"outbound":\([0-9]*\).*/\1/'); fi
    [ -n "$port" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then cat "$dir/sidecar.log" >&2; exit 1; fi
    sleep 1
  done
  calls 2000 "$port"; calls "$1" "$port"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  grep "I   refs" "$dir/vg.log" | awk '{gsub(",", "", $NF); print $NF}'
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$dir/cg" "$KEEP/$2.cg"; fi
}
a=$(total 1000 a); b=$(total $((1000 + n)) b)
echo "gRPC unary through ${ROOT:-this checkout}: $(( (b - a) / n )) instructions per call"
