#!/usr/bin/env bash
# System calls per call of library mode's client, counted by strace (what callgrind, which counts
# user-space instructions only, cannot see: the kernel's share of a call's CPU):
#   bench/library-syscalls.sh [N]   (after npm run build; needs strace)
# The same clients and method as bench/library-instructions.sh — `bare` (undici.request through an
# undici Agent) and `mesh-request` (undici.request through mesh.dispatcher), 8 at a time against one
# upstream outside strace — run under `strace -f -c` twice, startup + 4,000 calls and the same + N
# (default 8,000): the difference of each system call's count over N is its count per call in steady
# state, every thread of the process included (futex and epoll_pwait of V8's and libuv's threads).
# VARIANTS="mesh-request" counts one. Counts, not strace's times: strace slows every call it sees.
set -euo pipefail
n=${1:-8000}
cd "$(dirname "$0")/.."
node=node_modules/node/bin/node
up=$(mktemp); $node bench/servers.mjs upstream > "$up" & upid=$!
dir=$(mktemp -d)
trap 'kill $upid 2>/dev/null || true; rm -rf "$up" "$dir"' EXIT
for _ in $(seq 1 50); do grep -q '^[0-9]' "$up" && break; sleep 0.2; done
port=$(head -1 "$up")
variants=${VARIANTS:-bare mesh-request}
for v in $variants; do
  for calls in 4000 $((4000 + n)); do
    strace -f -c -o "$dir/$v-$calls" $node bench/library-instructions-client.mjs "$v" "$port" "$calls" 8
  done
done
# strace -c rows: % time, seconds, usecs/call, calls, [errors,] syscall — calls is the 4th field, the name the last.
$node -e '
  const fs = require("node:fs");
  const [dir, n, ...variants] = process.argv.slice(1);
  const counts = (file) => Object.fromEntries(fs.readFileSync(file, "utf8").split("\n").map((l) => l.trim().split(/\s+/))
    .filter((f) => /^[0-9.]+$/.test(f[0]) && f.length >= 5 && f.at(-1) !== "total").map((f) => [f.at(-1), Number(f[3])]));
  const per = Object.fromEntries(variants.map((v) => {
    const a = counts(`${dir}/${v}-4000`), b = counts(`${dir}/${v}-${4000 + Number(n)}`);
    return [v, Object.fromEntries(Object.keys(b).map((s) => [s, ((b[s] ?? 0) - (a[s] ?? 0)) / Number(n)]))];
  }));
  const names = [...new Set(variants.flatMap((v) => Object.keys(per[v])))].filter((s) => variants.some((v) => Math.abs(per[v][s] ?? 0) >= 0.0005));
  names.sort((x, y) => Math.max(...variants.map((v) => per[v][y] ?? 0)) - Math.max(...variants.map((v) => per[v][x] ?? 0)));
  console.log(`system calls per call (difference of ${n} calls, all threads)`);
  console.log(["syscall".padEnd(16), ...variants.map((v) => v.padStart(14))].join(" "));
  for (const s of names) console.log([s.padEnd(16), ...variants.map((v) => (per[v][s] ?? 0).toFixed(3).padStart(14))].join(" "));
  const total = (v) => Object.values(per[v]).reduce((x, y) => x + y, 0);
  console.log(["total".padEnd(16), ...variants.map((v) => total(v).toFixed(3).padStart(14))].join(" "));
' "$dir" "$n" $variants
