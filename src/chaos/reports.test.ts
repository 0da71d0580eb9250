import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { result } from './hypotheses.js';
import { newPhase, type SuiteJournal } from './journal.js';
import { junitXml } from './junit-report.js';
import { createProgressReporter } from './progress-reporter.js';
import { summarize, timeline, type RequestSample } from './samples.js';
import { summaryTable } from './summary-table.js';

const sample = (i: number, status = 200): RequestSample => ({ seq: i, scheduledAt: i * 10, latency: 5 + i, status, flags: [], bytes: 1 });

function journal(): SuiteJournal {
  const before = Object.assign(newPhase('steady-state-before', 'reviews answers'), { durationMs: 12 });
  before.hypotheses.push(result('ok', true, '== 200', '200'));
  const x = Object.assign(newPhase('experiment', 'breaker <opens> & "closes"'), { durationMs: 2500, ok: false });
  const samples = [sample(0), sample(1), sample(2, 503)];
  x.load = { ...summarize(samples), timeline: timeline(samples) };
  x.actions.push({ at: 0, step: 'inject', description: 'kill reviews[1]' }, { at: 2400, step: 'undo', description: 'kill reviews[1]' });
  x.hypotheses.push(result('successRate', false, '>= 99.9%', '66.67% (2/3)'), result('latency p99', true, '< 1s', '7ms'));
  const after = Object.assign(newPhase('steady-state-after', 'reviews answers'), { skipped: 'interrupted' });
  return { suite: 'breaker', file: 'chaos/breaker.yaml', startedAt: '2026-01-01T00:00:00.000Z', durationMs: 3000, phases: [before, x, after], outcome: 'failed' };
}

const broken: SuiteJournal = {
  suite: 'bad.yaml', file: 'bad.yaml', startedAt: '2026-01-01T00:00:00.000Z', durationMs: 0, phases: [], outcome: 'invalid',
  errors: ['bad.yaml:3:5 experiments[0].load.rte: unknown key "rte"'],
};

describe('junitXml', () => {
  it('one testsuite per phase, one testcase per hypothesis, failures with observed vs expected', () => {
    const xml = junitXml([journal(), broken]);
    expect(xml).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="pilotfish chaos" tests="5" failures="1" errors="1" time="3\.000">/);
    expect(xml).toContain('<testsuite name="breaker › breaker &lt;opens&gt; &amp; &quot;closes&quot;" tests="2" failures="1" errors="0" skipped="0" time="2.500"');
    expect(xml).toContain('<failure message="successRate: observed 66.67% (2/3), expected &gt;= 99.9%" type="hypothesis">observed: 66.67% (2/3)\nexpected: &gt;= 99.9%</failure>');
    expect(xml).toContain('<testcase classname="breaker.breaker &lt;opens&gt; &amp; &quot;closes&quot;" name="latency p99" time="0"></testcase>');
    expect(xml).toContain('+0.000s inject kill reviews[1]\n+2.400s undo kill reviews[1]\nload: 3 requests');
    expect(xml).toContain('<skipped message="interrupted"/>');
    expect(xml).toContain('<error message="bad.yaml:3:5 experiments[0].load.rte: unknown key &quot;rte&quot;" type="invalid">');
    expect(xml.match(/<testsuite /g)).toHaveLength(4);
  });
});

describe('summaryTable', () => {
  it('a row per phase, then every failure spelled out', () => {
    const table = summaryTable([journal(), broken]);
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^suite\s+phase\s+result\s+requests\s+success\s+p50\s+p99\s+hypotheses\s+time$/);
    expect(table).toMatch(/breaker\s+breaker <opens> & "closes"\s+FAIL\s+3\s+66\.67%\s+6ms\s+7ms\s+1\/2\s+2\.5s/);
    expect(table).toMatch(/breaker\s+steady state after: reviews answers\s+SKIP/);
    expect(table).toContain('0/2 suite(s) passed');
    expect(table).toContain('  ✘ breaker › breaker <opens> & "closes" › successRate: observed 66.67% (2/3), expected >= 99.9%');
    expect(table).toContain('  ✘ bad.yaml: bad.yaml:3:5 experiments[0].load.rte: unknown key "rte"');
  });
});

describe('progress reporter', () => {
  it('writes plain lines when not on a terminal', () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => { text += c.toString(); });
    const p = createProgressReporter({ out });
    const j = journal();
    const x = j.phases[1]!;
    p.phaseStarted(x, 1, 3);
    p.sample(sample(0));
    p.action(x.actions[0]!);
    p.phaseFinished(x);
    p.close();
    expect(text).toBe([
      '▶ [2/3] breaker <opens> & "closes"',
      '    +0.00s inject kill reviews[1]',
      '✘ breaker <opens> & "closes"  2.5s  1/2 hypotheses hold',
      '    ✘ successRate: observed 66.67% (2/3), expected >= 99.9%',
      '',
    ].join('\n'));
    expect(text).not.toContain('\x1b');
  });

  it('redraws one status line on a terminal', async () => {
    const out = Object.assign(new PassThrough(), { isTTY: true });
    let text = '';
    out.on('data', (c: Buffer) => { text += c.toString(); });
    const p = createProgressReporter({ out, intervalMs: 5 });
    const x = journal().phases[1]!;
    p.phaseStarted(x, 0, 1);
    p.sample(sample(0));
    p.sample(sample(1, 503));
    const deadline = Date.now() + 2000;
    while (!text.includes('req 2') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    p.phaseFinished(x);
    p.close();
    expect(text).toMatch(/\r\x1b\[2K\[1\/1\] breaker <opens> & "closes"  \d+\.\ds  req 2  err 1  p99 6ms/);
    expect(text).toContain('\r\x1b[2K✘ breaker <opens> & "closes"  2.5s  1/2 hypotheses hold\n');
  });
});
