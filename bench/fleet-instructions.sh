#!/usr/bin/env bash
# Instructions per fleet flip of one real sidecar, counted by valgrind's callgrind: deterministic,
# so it compares two builds where CPU-time runs on a shared VM cannot.
#   bench/fleet-instructions.sh [N]   (after npm run build; needs valgrind and redis-server)
# A redis-server and one `pilotfish run --fleet` under callgrind; the driver publishes flips
# (blue ↔ green, the bench:fleet policies) and waits for each in the sidecar's fleet report, sending
# it no request. Run twice, with 10 and 10 + N (default 100) flips; the difference of the two totals
# over N is the sidecar's instructions per flip (push, reads, validate → build → swap, log, report).
#   KEEP=DIR   keep both runs' callgrind files as DIR/a.cg (10 flips) and DIR/b.cg (10 + N), for
#              a per-function comparison: node bench/instructions-diff.mjs DIR N [ROWS] [BASE_DIR]
#   WARM=W POLLS=P   real upstreams (bench/servers.mjs text blue|green): W requests through the
#              sidecar before the first flip (bench:fleet sends 500), and after each flip requests
#              until it answers the new color and P more — the flip and the first requests on its
#              snapshot, what bench:fleet times
#   GREEN_WARM=G   with WARM: both policies also route host web2 to green, and G requests go there
#              before the first flip — green's connection has served before it is flipped to, so
#              flip 1 less this run's flip 1 is what a newly routed upstream's first requests cost
#   OTHER=O    with WARM: a third upstream, gray (its own server), routed by host web3 in both
#              policies, gets O requests before the first flip — another upstream's first requests
#              paid beforehand, so flip 1 less this run's is what any upstream's first use costs
#              (its code's re-optimization), apart from what is green's own (its connection)
#   NODE_ARGS="--flag …"   node flags for the sidecar (e.g. --no-lazy: flip 1 without lazy compilation)
#   SPLIT=K    one run instead of two, cut in three windows by `callgrind_control -d` (after the
#              warm-up, after flip K, after flip K + N): the first K flips (cold: the flip path and
#              the request path's first calls into a new snapshot) apart from the N after them;
#              prints instructions per flip of each; with KEEP, DIR/cold/{a,b}.cg and DIR/warm/{a,b}.cg
#              for instructions-diff.mjs (DIR/cold K, DIR/warm N)
set -euo pipefail
n=${1:-100}
cd "$(dirname "$0")/.."
node=node_modules/node/bin/node
dir=$(mktemp -d)
trap 'kill $(cat "$dir/redis.pid") 2>/dev/null || true; rm -rf "$dir"' EXIT
port=$($node -e 'const s=require("net").createServer().listen(0,()=>{console.log(s.address().port);s.close()})')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
url=redis://127.0.0.1:$port
blue_port=1; green_port=2
if [ -n "${WARM:-}${POLLS:-}" ]; then
  upstream() { # $1: the text it answers; prints its port
    $node bench/servers.mjs text "$1" > "$dir/$1.port" & echo $! >> "$dir/upstreams.pid"
    for _ in $(seq 1 100); do [ -s "$dir/$1.port" ] && break; sleep 0.1; done
    head -1 "$dir/$1.port"
  }
  blue_port=$(upstream blue); green_port=$(upstream green)
  if [ -n "${OTHER:-}" ]; then gray_port=$(upstream gray); fi
  trap 'kill $(cat "$dir/redis.pid") $(cat "$dir/upstreams.pid") 2>/dev/null || true; rm -rf "$dir"' EXIT
fi
policy() { # $1: the route's upstream
  echo 'version: 1'; cat bench/listeners.yaml
  echo 'upstreams:'
  echo "  blue: { endpoints: [{ address: \"127.0.0.1:$blue_port\" }] }"
  echo "  green: { endpoints: [{ address: \"127.0.0.1:$green_port\" }] }"
  if [ -n "${OTHER:-}" ]; then echo "  gray: { endpoints: [{ address: \"127.0.0.1:$gray_port\" }] }"; fi
  echo 'routes:'
  echo "  - { name: web, match: { host: web }, to: [{ upstream: $1 }] }"
  if [ -n "${GREEN_WARM:-}" ]; then echo '  - { name: web2, match: { host: web2 }, to: [{ upstream: green }] }'; fi
  if [ -n "${OTHER:-}" ]; then echo '  - { name: web3, match: { host: web3 }, to: [{ upstream: gray }] }'; fi
}
# The policies in a directory of their own: the sidecar watches its policy file's directory, and its
# log (and the upstreams' port files, Redis's log) written beside it would make it re-read the file.
mkdir "$dir/policy"
policy blue > "$dir/policy/blue.yaml"; policy green > "$dir/policy/green.yaml"
total() { # $1: flips; prints callgrind's instruction total
  local key=k$1
  PILOTFISH_REEXEC=0 valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file="$dir/cg.$1" --log-file="$dir/vg.$1.log" \
    $node --max-semi-space-size=8 ${NODE_ARGS:-} dist/cli/main.js run --policy "$dir/policy/blue.yaml" --fleet "$url" --fleet-key "$key" --no-access-log 2> "$dir/sidecar.$1.log" &
  local pid=$!
  for _ in $(seq 1 900); do grep -q '"listening"' "$dir/sidecar.$1.log" 2>/dev/null && break; sleep 1; done
  grep -q '"listening"' "$dir/sidecar.$1.log" || { echo "the sidecar did not start listening within 900 s" >&2; exit 1; }
  local outbound
  outbound=$(grep '"listening"' "$dir/sidecar.$1.log" | $node -e 'process.stdin.once("data", (d) => console.log(JSON.parse(d).ports.outbound))')
  PORT=$outbound PID=$pid $node bench/fleet-instructions-driver.mjs "$url" "$key" "$1" "$dir/policy/blue.yaml" "$dir/policy/green.yaml"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$dir/cg.$1" "$KEEP/$2.cg"; cp "$dir/sidecar.$1.log" "$KEEP/$2.sidecar.log"; fi
  grep "I   refs" "$dir/vg.$1.log" | awk '{gsub(",", "", $NF); print $NF}'
}
if [ -n "${SPLIT:-}" ]; then
  k=$SPLIT
  export SPLIT
  total $((k + n)) split > /dev/null
  # The dumps, in order: cg.F.1 (start-up and warm-up), cg.F.2 (flips 1..K), cg.F.3 (the N after).
  f=$dir/cg.$((k + n))
  window() { awk '/^(summary|totals):/ {print $2; exit}' "$1"; }
  cold=$(window "$f.2"); warm=$(window "$f.3")
  if [ -n "${KEEP:-}" ]; then
    mkdir -p "$KEEP/cold" "$KEEP/warm"; : > "$KEEP/cold/a.cg"; : > "$KEEP/warm/a.cg"
    cp "$f.2" "$KEEP/cold/b.cg"; cp "$f.3" "$KEEP/warm/b.cg"; cp "$f.1" "$KEEP/start.cg"
  fi
  echo "one sidecar: flips 1-$k $(( cold / k )) instructions per flip, flips $((k + 1))-$((k + n)) $(( warm / n )) per flip (WARM=${WARM:-0} POLLS=${POLLS:-0} GREEN_WARM=${GREEN_WARM:-0} OTHER=${OTHER:-0}${NODE_ARGS:+ NODE_ARGS=$NODE_ARGS})"
  exit 0
fi
a=$(total 10 a); b=$(total $((10 + n)) b)
echo "one sidecar: $(( (b - a) / n )) instructions per fleet flip ($n flips)"
