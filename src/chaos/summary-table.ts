/**
 * The table printed at the end of a run: one row per phase with its traffic and verdict, then every
 * failed hypothesis spelled out (observed vs expected), so the last screen says what went wrong.
 */
import { formatObserved } from './comparison.js';
import type { SuiteJournal } from './journal.js';
import { phaseTitle } from './progress-reporter.js';

const HEAD = ['suite', 'phase', 'result', 'requests', 'success', 'p50', 'p99', 'hypotheses', 'time'];

export function summaryTable(journals: readonly SuiteJournal[]): string {
  const rows: string[][] = [];
  const failures: string[] = [];
  const skips: string[] = [];
  for (const j of journals) {
    if (j.skipped) {
      rows.push([j.suite, '—', 'SKIP', '', '', '', '', '', seconds(j.durationMs)]);
      skips.push(`${j.suite}: ${j.skipped}`);
      continue;
    }
    if (j.errors) {
      rows.push([j.suite, '—', j.outcome.toUpperCase(), '', '', '', '', '', seconds(j.durationMs)]);
      failures.push(...j.errors.map((e) => `${j.suite}: ${e}`));
      continue;
    }
    for (const p of j.phases) {
      const held = p.hypotheses.filter((h) => h.ok).length;
      const l = p.load;
      rows.push([
        j.suite, phaseTitle(p), p.skipped ? 'SKIP' : p.ok ? 'PASS' : 'FAIL',
        l ? String(l.requests) : '', l ? formatObserved(l.successRate, 'percent') : '',
        l ? formatObserved(l.latency.p50, 'ms') : '', l ? formatObserved(l.latency.p99, 'ms') : '',
        p.skipped ? '' : `${held}/${p.hypotheses.length}`, p.skipped ? '' : seconds(p.durationMs),
      ]);
      for (const h of p.hypotheses) if (!h.ok) failures.push(`${j.suite} › ${phaseTitle(p)} › ${h.message ?? h.name}`);
    }
  }
  const widths = HEAD.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [line(HEAD), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
  const passed = journals.filter((j) => j.outcome === 'passed').length;
  out.push('', `${passed}/${journals.length} suite(s) passed${skips.length > 0 ? `, ${skips.length} skipped` : ''}`);
  if (skips.length > 0) out.push('', 'skipped:', ...skips.map((s) => `  - ${s}`));
  if (failures.length > 0) out.push('', 'failures:', ...failures.map((f) => `  ✘ ${f.split('\n').join('\n      ')}`));
  return `${out.join('\n')}\n`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
