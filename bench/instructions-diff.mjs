// Function-by-function instructions per request from the two callgrind files bench/instructions.sh
// keeps (KEEP=DIR): (b − a) / N for every function, largest first; code V8 compiled at run time has
// no symbols and is summed as one row ("JIT-compiled JavaScript"). First a split by kind: V8's
// optimizing compilers and its garbage collector come in bursts (a major GC or a round of
// optimization inside one run's window and not the other's moves the total by 10–20%), so the
// figure without them — "the request path" — is the one to compare between two builds (V8's
// start-up hash seed, a once-per-process cost that differs run to run, is told apart too).
//   node bench/instructions-diff.mjs DIR N [ROWS]          one run
//   node bench/instructions-diff.mjs DIR N ROWS BASE_DIR   two runs side by side (BASE_DIR first)
//   node bench/instructions-diff.mjs DIR N ROWS BASE_DIR BASE_N   the same when BASE_DIR's b − a
//                                                         covers BASE_N requests rather than N
// A window of a running callgrind process (two `callgrind_control -d PID` dumps, the second holding
// only what ran since the first) compares the same way: the second dump as b.cg, an empty a.cg.
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';

const [dir, n, rows = '40', base, baseN] = process.argv.slice(2);
const N = Number(n);
if (!dir || !N) { console.error('usage: instructions-diff.mjs DIR N [ROWS] [BASE_DIR]'); process.exit(2); }

function functions(file) {
  if (statSync(file).size === 0) return new Map(); // an empty a.cg: the window is b.cg alone
  const out = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const m = new Map();
  for (const line of out.split('\n')) {
    const r = /^\s*([\d,]+) \([^)]*\)\s+(.*)$/.exec(line);
    if (!r || r[2] === 'PROGRAM TOTALS') continue;
    let name = r[2].replace(/ \[[^\]]*\]$/, '').replace(/^\?\?\?:/, '');
    if (/^0x[0-9a-f]+$/.test(name) || name === '???') name = '(JIT-compiled JavaScript)';
    m.set(name, (m.get(name) ?? 0) + Number(r[1].replaceAll(',', '')));
  }
  return m;
}
function perRequest(d, N) {
  const a = functions(`${d}/a.cg`), b = functions(`${d}/b.cg`);
  const out = new Map();
  for (const k of new Set([...a.keys(), ...b.keys()])) out.set(k, ((b.get(k) ?? 0) - (a.get(k) ?? 0)) / N);
  return out;
}
const KINDS = [
  // V8 draws a random hash seed at isolate creation and tests candidates for primality (sprp): once
  // per process, a different number of instructions each run (8.5 M apart between two fleet runs,
  // 85 k "per flip") — not the workload's.
  ['start-up hash seed', /HashSeed|detail::sprp/],
  ['JIT compiler', /compiler::|maglev|Maglev|turboshaft|Turbofan|Parser|Scanner|AstValue|preparse/i],
  ['garbage collector', /Scaveng|Heap|heap::|Marking|Sweep|ObjectCache|MemoryChunk|Evacuat|Remembered|SlotSet|PageMetadata|SizeFromMap|RelocIterator|PointersUpdating|StringTableCleaner/],
];
function kinds(m) {
  const out = new Map([['request path', 0], ...KINDS.map(([k]) => [k, 0])]);
  for (const [name, v] of m) {
    const kind = (KINDS.find(([, re]) => re.test(name)) ?? ['request path'])[0];
    out.set(kind, out.get(kind) + v);
  }
  return out;
}
const cur = perRequest(dir, N);
const total = (m) => [...m.values()].reduce((s, v) => s + v, 0);
const short = (s) => (s.length > 110 ? `${s.slice(0, 107)}...` : s);
const fmt = (m) => [...kinds(m)].map(([k, v]) => `${k} ${Math.round(v)}`).join(', ');
if (!base) {
  console.log(`total ${Math.round(total(cur))} instructions per request: ${fmt(cur)}`);
  for (const [k, v] of [...cur].sort((x, y) => y[1] - x[1]).slice(0, Number(rows))) console.log(String(Math.round(v)).padStart(9), short(k));
} else {
  const old = perRequest(base, Number(baseN ?? N));
  console.log(`total ${Math.round(total(old))} → ${Math.round(total(cur))} instructions per request`);
  console.log(`  before: ${fmt(old)}\n  after:  ${fmt(cur)}`);
  const keys = new Set([...old.keys(), ...cur.keys()]);
  const diff = [...keys].map((k) => [k, old.get(k) ?? 0, cur.get(k) ?? 0]).sort((x, y) => Math.abs(y[2] - y[1]) - Math.abs(x[2] - x[1]));
  console.log('   before     after     delta  function');
  for (const [k, o, c] of diff.slice(0, Number(rows))) console.log(`${String(Math.round(o)).padStart(9)} ${String(Math.round(c)).padStart(9)} ${String(Math.round(c - o)).padStart(9)}  ${short(k)}`);
}
