/**
 * JUnit XML for CI dashboards: one `<testsuite>` per phase (experiment or steady-state check), one
 * `<testcase>` per hypothesis, failures carrying observed vs expected. The actions an experiment took
 * go to `<system-out>` so a red test shows what was injected when.
 */
import type { PhaseRecord, SuiteJournal } from './journal.js';
import { phaseTitle } from './progress-reporter.js';

export function junitXml(journals: readonly SuiteJournal[]): string {
  const suites = journals.flatMap((j) => (j.skipped ? [skippedSuite(j)] : j.errors ? [environmentSuite(j)] : j.phases.map((p) => phaseSuite(j, p))));
  const sum = (f: (p: PhaseRecord) => number): number => journals.reduce((n, j) => n + (j.errors ? 0 : j.phases.reduce((m, p) => m + f(p), 0)), 0);
  const tests = sum((p) => (p.skipped ? 1 : p.hypotheses.length)) + journals.filter((j) => j.errors || j.skipped).length;
  const failures = sum((p) => (p.skipped ? 0 : p.hypotheses.filter((h) => !h.ok).length));
  const errors = journals.filter((j) => j.errors).length;
  const totalMs = journals.reduce((n, j) => n + j.durationMs, 0);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="pilotfish chaos" tests="${tests}" failures="${failures}" errors="${errors}" time="${secs(totalMs)}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}

function phaseSuite(j: SuiteJournal, p: PhaseRecord): string {
  const name = `${j.suite} › ${phaseTitle(p)}`;
  const classname = `${j.suite}.${p.kind === 'experiment' ? p.name : p.kind}`;
  if (p.skipped) {
    return `  <testsuite name="${attr(name)}" tests="1" failures="0" errors="0" skipped="1" time="0" timestamp="${p.startedAt}">\n`
      + `    <testcase classname="${attr(classname)}" name="${attr(phaseTitle(p))}" time="0"><skipped message="${attr(p.skipped)}"/></testcase>\n  </testsuite>`;
  }
  const failures = p.hypotheses.filter((h) => !h.ok).length;
  const cases = p.hypotheses.map((h) => {
    const open = `    <testcase classname="${attr(classname)}" name="${attr(h.name)}" time="0">`;
    if (h.ok) return `${open}</testcase>`;
    const detail = `observed: ${h.observed}\nexpected: ${h.expected}`;
    return `${open}\n      <failure message="${attr(h.message ?? h.name)}" type="hypothesis">${text(detail)}</failure>\n    </testcase>`;
  });
  const out = p.actions.map((a) => `+${(a.at / 1000).toFixed(3)}s ${a.step} ${a.description}${a.error ? ` FAILED: ${a.error}` : ''}`);
  if (p.load) out.push(`load: ${p.load.requests} requests, success ${p.load.successRate.toFixed(3)}%, p50 ${p.load.latency.p50.toFixed(1)}ms, p99 ${p.load.latency.p99.toFixed(1)}ms`);
  return [
    `  <testsuite name="${attr(name)}" tests="${p.hypotheses.length}" failures="${failures}" errors="0" skipped="0" time="${secs(p.durationMs)}" timestamp="${p.startedAt}">`,
    ...cases,
    ...(out.length ? [`    <system-out>${text(out.join('\n'))}</system-out>`] : []),
    '  </testsuite>',
  ].join('\n');
}

function skippedSuite(j: SuiteJournal): string {
  return `  <testsuite name="${attr(j.suite)}" tests="1" failures="0" errors="0" skipped="1" time="0" timestamp="${j.startedAt}">\n`
    + `    <testcase classname="${attr(j.suite)}" name="environment starts" time="0"><skipped message="${attr(j.skipped ?? '')}"/></testcase>\n  </testsuite>`;
}

function environmentSuite(j: SuiteJournal): string {
  const message = (j.errors ?? []).join('\n');
  return `  <testsuite name="${attr(j.suite)}" tests="1" failures="0" errors="1" skipped="0" time="${secs(j.durationMs)}" timestamp="${j.startedAt}">\n`
    + `    <testcase classname="${attr(j.suite)}" name="${attr(j.outcome === 'invalid' ? 'suite is valid' : 'environment starts')}" time="0">\n`
    + `      <error message="${attr(message.split('\n')[0] ?? '')}" type="${j.outcome}">${text(message)}</error>\n    </testcase>\n  </testsuite>`;
}

function secs(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function text(s: string): string {
  // XML 1.0 forbids most control characters even escaped; sidecar logs may carry them.
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function attr(s: string): string {
  return text(s).replace(/"/g, '&quot;').replace(/\n/g, '&#10;');
}
