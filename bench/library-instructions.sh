#!/usr/bin/env bash
# Instructions per call of library mode's client, counted by valgrind's callgrind (deterministic, so
# it resolves a few percent where CPU time on a shared machine cannot):
#   bench/library-instructions.sh [N]   (after npm run build; needs valgrind)
# For each variant — `bare` (undici.request through an undici Agent) and `mesh-request`
# (undici.request through mesh.dispatcher) — the client process runs under callgrind twice against
# one upstream (outside callgrind): startup + 3,000 warm-up calls + 1,000, and the same + N (default
# 8,000); the difference of the two totals over N is its instructions per call in steady state,
# printed whole and without V8's major GC (bench/callgrind-split.mjs: whether a mark-compact falls
# in the window is luck, ±20% of a call at this N; compare builds on the figure without it).
# VARIANTS="mesh-request" measures one (the ratio needs both). CG_KEEP=dir keeps the callgrind outputs (callgrind_annotate them to compare function by function).
# What this window is not (why its ratio differs from bench:library's CPU ratio): its calls 4,001 on
# come before V8's TurboFan wave for the call's functions (~10,000–12,000 calls: --trace-opt), which
# bench:library's window now follows (BENCH_WARMUP_CALLS, 20,000); the client runs with
# --max-semi-space-size=8 (the sidecar's setting) where bench:library's runs with V8's defaults
# (semi-spaces up to 32 MiB); major GC is left out; and user-space instructions are not the kernel's
# share (bench/library-syscalls.sh counts that) nor cache misses and stalls. WARMUP=16000 CLIENT_FLAGS=
# measures in bench:library's conditions (about three times as long under valgrind).
# Defaults: WARMUP=4000, CLIENT_FLAGS=--max-semi-space-size=8 (the figures in docs/benchmarks.md).
set -euo pipefail
n=${1:-8000}
cd "$(dirname "$0")/.."
node=node_modules/node/bin/node
up=$(mktemp); $node bench/servers.mjs upstream > "$up" & upid=$!
trap 'kill $upid 2>/dev/null || true; rm -f "$up"' EXIT
for _ in $(seq 1 50); do grep -q '^[0-9]' "$up" && break; sleep 0.2; done
port=$(head -1 "$up")
total() { # $1 variant, $2 calls; prints callgrind's instruction total and its major-GC part
  local dir; dir=$(mktemp -d)
  valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file="$dir/cg" --log-file="$dir/vg.log" \
    $node ${CLIENT_FLAGS---max-semi-space-size=8} bench/library-instructions-client.mjs "$1" "$port" "$2" 8
  $node bench/callgrind-split.mjs "$dir/cg"
  if [ -n "${CG_KEEP:-}" ]; then mkdir -p "$CG_KEEP"; cp "$dir/cg" "$CG_KEEP/$1-$2.cg"; fi
  rm -rf "$dir"
}
declare -A per
for v in ${VARIANTS:-bare mesh-request}; do
  w=${WARMUP:-4000}
  read -r a am < <(total $v $w); read -r b bm < <(total $v $((w + n)))
  per[$v]=$(( (b - a - (bm - am)) / n ))
  echo "$v: $(( (b - a) / n )) instructions per call, ${per[$v]} without major GC"
done
[ -n "${per[bare]:-}" ] && [ -n "${per[mesh-request]:-}" ] && awk -v m="${per[mesh-request]}" -v b="${per[bare]}" 'BEGIN { printf "mesh-request / bare (without major GC): %.2f×\n", m / b }'
