#!/usr/bin/env bash
# Instructions per request of a real sidecar, counted by valgrind's callgrind: deterministic, so a
# cost of a few percent shows where CPU-time runs on a shared VM cannot resolve it.
#   bench/instructions.sh POLICY_FILE [N]            (after npm run build; needs valgrind)
#   bench/instructions.sh --bare-undici PORT [N]     the yardstick: bench/servers.mjs bare-undici to PORT
# The sidecar (policy routing Host `bench`) runs under callgrind twice: startup + 3,000 warm-up
# requests (WARMUP) + 1,000, and the same + N (default 8,000); the difference of the two totals over N is its
# instructions per request in steady state. Compare two policies in the same way; between two runs
# of one policy the figure moves by ~1.5%. The process's environment passes through (OTEL_* turns
# tracing on). Knobs:
#   ACCESS_LOG=FILE   leave the access log on, written to FILE (default: --no-access-log); not in
#                     POLICY_FILE's directory, which the sidecar watches (a file written there wakes
#                     the watch on every line) — give the policy a directory of its own
#   KEEP=DIR          keep both runs' callgrind files as DIR/a.cg and DIR/b.cg, for
#                     `callgrind_annotate --inclusive=no DIR/b.cg` (or a function-by-function diff
#                     of b − a: bench/instructions-diff.mjs DIR N)
#   WARMUP=K          K warm-up requests instead of 3,000 (code that runs for 1 request in 100, as a
#                     sampled trace's, needs more before V8 has optimized it)
#   PARALLEL=1        run the two at once (half the wall time on two cores; the counts agree)
#   TRACING=RATIO     tracing on as bench/telemetry.mjs runs it: OTLP/protobuf to a local sink that
#                     discards (bench/servers.mjs collector, not counted), parentbased_traceidratio at
#                     RATIO (0.01: the 1% of issue 14; 0: on, every request unsampled; 1: all sampled).
#                     Any OTEL_* already set in the environment wins over these.
set -euo pipefail
bare=''
if [ "$1" = --bare-undici ]; then bare=$2; shift; fi
policy=$1; n=${2:-8000}
cd "$(dirname "$0")/.."
node=node_modules/node/bin/node
collector=''
if [ -n "${TRACING:-}" ]; then
  cdir=$(mktemp -d)
  $node bench/servers.mjs collector > "$cdir/port" &
  collector=$!
  trap 'kill -TERM $collector 2>/dev/null || true; rm -rf "$cdir"' EXIT
  for _ in $(seq 1 100); do [ -s "$cdir/port" ] && break; sleep 0.1; done
  export OTEL_EXPORTER_OTLP_ENDPOINT=${OTEL_EXPORTER_OTLP_ENDPOINT:-http://127.0.0.1:$(head -1 "$cdir/port")}
  export OTEL_EXPORTER_OTLP_PROTOCOL=${OTEL_EXPORTER_OTLP_PROTOCOL:-http/protobuf}
  export OTEL_TRACES_SAMPLER=${OTEL_TRACES_SAMPLER:-parentbased_traceidratio}
  export OTEL_TRACES_SAMPLER_ARG=${OTEL_TRACES_SAMPLER_ARG:-$TRACING}
fi
total() { # $1: extra requests after the warm-up, $2: the run's name; prints callgrind's instruction total
  local dir; dir=$(mktemp -d)
  if [ -n "$bare" ]; then
    valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file="$dir/cg" --log-file="$dir/vg.log" \
      $node --max-semi-space-size=8 bench/servers.mjs bare-undici "$bare" > "$dir/sidecar.log" 2>&1 &
  elif [ -n "${ACCESS_LOG:-}" ]; then
    PILOTFISH_REEXEC=0 valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file="$dir/cg" --log-file="$dir/vg.log" \
      $node --max-semi-space-size=8 dist/cli/main.js run --policy "$policy" 2> "$dir/sidecar.log" > "$ACCESS_LOG" &
  else
    PILOTFISH_REEXEC=0 valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file="$dir/cg" --log-file="$dir/vg.log" \
      $node --max-semi-space-size=8 dist/cli/main.js run --policy "$policy" --no-access-log 2> "$dir/sidecar.log" &
  fi
  local pid=$! port=''
  for _ in $(seq 1 600); do
    if [ -n "$bare" ]; then port=$(grep -m1 -x '[0-9]*' "$dir/sidecar.log" 2>/dev/null || true)
    elif grep -q '"listening"' "$dir/sidecar.log" 2>/dev/null; then port=$(grep '"listening"' "$dir/sidecar.log" | head -1 | sed 's/.*"outbound":\([0-9]*\).*/\1/'); fi
    [ -n "$port" ] && break; sleep 1
  done
  $node bench/instructions-client.mjs "$port" $((${WARMUP:-3000} + $1)) 10
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  grep "I   refs" "$dir/vg.log" | awk '{gsub(",", "", $NF); print $NF}'
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$dir/cg" "$KEEP/$2.cg"; fi
  rm -rf "$dir"
}
if [ -n "${PARALLEL:-}" ]; then
  # Wait for the two runs only: with TRACING the collector is a child too, and lives until EXIT.
  out=$(mktemp -d); total 1000 a > "$out/a" & pa=$!; total $((1000 + n)) b > "$out/b"; wait "$pa"
  a=$(tail -1 "$out/a"); b=$(tail -1 "$out/b"); rm -rf "$out"
else
  a=$(total 1000 a); b=$(total $((1000 + n)) b)
fi
echo "${bare:+bare undici → }$policy${TRACING:+, tracing at ratio $TRACING}: $(( (b - a) / n )) instructions per request"
