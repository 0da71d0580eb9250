// Splits a callgrind output's instruction total into the mutator (plus minor GC) and V8's major GC
// (marking, sweeping, compaction): node bench/callgrind-split.mjs FILE → "<total> <major>".
// A major GC comes every few thousand calls, so whether one falls in a short window is luck; the
// figure without it is what compares two builds repeatably (minor GC, which grows with what each
// call allocates, stays in).
import { execFileSync } from 'node:child_process';

const MAJOR = /Marking|Sweep|MarkCompact|ActiveSystemPages|popcount|FreeList|RelocIterator|NeedsResetDueToFlushedBytecode|Evacuat|RecordMigratedSlot|PointersUpdating/;
const out = execFileSync('callgrind_annotate', ['--threshold=100', process.argv[2]], { encoding: 'utf8', maxBuffer: 1 << 28 });
let total = 0;
let major = 0;
for (const line of out.split('\n')) {
  const m = /^\s*([\d,]+) \([ \d.]+%\)\s+(.*)$/.exec(line);
  if (!m) continue;
  const n = Number(m[1].replaceAll(',', ''));
  if (m[2].includes('PROGRAM TOTALS')) total = n;
  else if (MAJOR.test(m[2]) && !m[2].includes('Scaveng')) major += n;
}
console.log(`${total} ${major}`);
