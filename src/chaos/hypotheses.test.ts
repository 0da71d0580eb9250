import { describe, expect, it } from 'vitest';
import { expectBlockSchema, type ExpectBlock } from './expect-schema.js';
import { evaluateSampleHypotheses } from './hypotheses.js';
import type { RequestSample } from './samples.js';

const block = (raw: unknown): ExpectBlock => expectBlockSchema.parse(raw);

/** 100 requests, 10 ms apart: 95 × 200 from blue-0/blue-1/green-0, 4 × 503 UF, 1 with no answer. */
function samples(): RequestSample[] {
  return Array.from({ length: 100 }, (_, i): RequestSample => {
    const base = { seq: i, scheduledAt: i * 10, latency: i + 1, bytes: 10 };
    if (i >= 95 && i < 99) return { ...base, status: 503, flags: ['UF'] };
    if (i === 99) return { ...base, status: 0, error: 'ECONNRESET', flags: [] };
    const instance = i % 5 === 0 ? 'green-0' : i % 2 === 0 ? 'blue-0' : 'blue-1';
    return { ...base, status: 200, flags: [], instance, upstream: instance.split('-')[0]! };
  });
}

const labels: Record<string, Record<string, string>> = { 'blue-0': { version: 'blue' }, 'blue-1': { version: 'blue' }, 'green-0': { version: 'green' } };
const evaluate = (raw: unknown) => evaluateSampleHypotheses(block(raw), samples(), { labelsOf: (i) => labels[i] });

describe('evaluateSampleHypotheses', () => {
  it.each([
    [{ successRate: '>= 95%' }, 'successRate', true, '95% (95/100)'],
    [{ successRate: '>= 99.9%' }, 'successRate', false, '95% (95/100)'],
    [{ requests: '== 100' }, 'requests', true, '100'],
    [{ status: { '503': '== 4' } }, 'status 503', true, '4'],
    [{ status: { '5xx': '<= 4%' } }, 'status 5xx', true, '4% (4/100)'],
    [{ status: { error: '== 1' } }, 'status error', true, '1'],
    [{ flags: { UF: '>= 4%' } }, 'flag UF', true, '4% (4/100)'],
    [{ flags: { none: '== 96' } }, 'flag none', true, '96'],
    [{ latency: { p50: '<= 50ms' } }, 'latency p50', true, '50ms over 100 requests'],
    [{ latency: { p99: '< 99ms' } }, 'latency p99', false, '99ms over 100 requests'],
    [{ latency: { max: '<= 100' } }, 'latency max', true, '100ms over 100 requests'],
    [{ latency: { 'p99.9': '< 1s' } }, 'latency p99.9', true, '100ms over 100 requests'],
    [{ share: { by: 'instance', values: { 'green-0': '== 20%' } } }, 'share instance=green-0', true, '20% (19/95)'],
    [{ share: { by: 'upstream', values: { blue: '>= 75%' } } }, 'share upstream=blue', true, '80% (76/95)'],
    [{ share: { by: 'version', values: { green: '>= 25%' } } }, 'share version=green', false, '20% (19/95)'],
  ])('%j → %s ok=%s', (raw, name, ok, observed) => {
    const [r] = evaluate(raw);
    expect(r).toMatchObject({ name, ok, observed });
  });

  it('a failure reads as a sentence: observed vs expected', () => {
    expect(evaluate({ successRate: '>= 99.9%' })[0]!.message).toBe('successRate: observed 95% (95/100), expected >= 99.9%');
  });

  it('restricts sample checks to the window and names it', () => {
    const [r] = evaluate({ window: { from: '500ms', to: 950 }, successRate: '== 100%' });
    expect(r).toMatchObject({ name: '[500ms–950ms] successRate', ok: true, observed: '100% (45/45)' });
    const [late] = evaluate({ window: { from: '950ms' }, successRate: '== 100%' });
    expect(late).toMatchObject({ name: '[950ms–end] successRate', ok: false, observed: '0% (0/5)' });
  });

  it('a window anchored to injections counts what was sent after one completed, or answered before one began', () => {
    // The load ran 300 ms behind: request i was due at 10·i, left at 10·i + 300 and was answered i + 1 ms after it was due.
    const late = samples().map((s) => ({ ...s, sentAt: s.scheduledAt + 300, latency: s.latency + 300 }));
    const marks = { publish: { start: 400, end: 410 }, rollback: { start: 900, end: 905 } };
    const check = (window: unknown) => evaluateSampleHypotheses(block({ window, requests: '>= 0' }), late, { marks })[0]!;
    // answered at 11·i + 301 < 400: i ≤ 8
    expect(check({ before: 'publish' })).toMatchObject({ name: '[sent from 0ms, answered before publish] requests', observed: '9' });
    // sent at 10·i + 300 ≥ 510 (i ≥ 21), answered at 11·i + 301 < 900 (i ≤ 54)
    expect(check({ after: 'publish', from: '100ms', before: 'rollback' })).toMatchObject({ name: '[sent after publish +100ms, answered before rollback] requests', observed: '34' });
    expect(check({ after: 'rollback', from: 1, to: 200 })).toMatchObject({ name: '[sent after rollback +1ms, before rollback +200ms] requests', observed: '20' }); // 910…1100
    expect(check({ after: 'kill' })).toMatchObject({ observed: '0' }); // never injected: empty, and an empty window fails
  });

  it('an empty window fails instead of passing vacuously', () => {
    const [r] = evaluate({ window: { from: '1h' }, successRate: '>= 0%' });
    expect(r).toMatchObject({ ok: false, observed: 'no requests' });
    const [lat] = evaluate({ window: { from: '1h' }, latency: { p99: '< 1s' } });
    expect(lat).toMatchObject({ ok: false, observed: 'no requests' });
  });

  it('share fails readably when no answer named its instance', () => {
    const none = samples().map(({ instance: _i, upstream: _u, ...s }) => s);
    const [r] = evaluateSampleHypotheses(block({ share: { values: { 'blue-0': '>= 1%' } } }), none);
    expect(r!.ok).toBe(false);
    expect(r!.observed).toMatch(/no answers from fake upstreams/);
  });
});
