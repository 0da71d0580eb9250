import { ROOT_CONTEXT, SamplingDecision } from '@opentelemetry/api';
import { TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { HeadSampler, parseTraceparent, RandomIds, randomHex, UnsampledTrace } from './head-sampling.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('parseTraceparent', () => {
  it.each([
    [`00-${TRACE}-00f067aa0ba902b7-01`, { traceId: TRACE, spanId: '00f067aa0ba902b7', sampled: true }],
    [`00-${TRACE}-00f067aa0ba902b7-00`, { traceId: TRACE, spanId: '00f067aa0ba902b7', sampled: false }],
    [`01-${TRACE}-00f067aa0ba902b7-03-future`, { traceId: TRACE, spanId: '00f067aa0ba902b7', sampled: true }],
  ])('reads %s', (value, want) => {
    expect(parseTraceparent(value)).toEqual(want);
  });

  it.each([
    undefined, '', 'garbage', `ff-${TRACE}-00f067aa0ba902b7-01`, `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
    `00-${TRACE}-${'0'.repeat(16)}-01`, `00-${TRACE.toUpperCase()}-00f067aa0ba902b7-01`, `00-${TRACE}-00f067aa0ba902b7-01-extra`,
  ])('rejects %s', (value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });
});

describe('HeadSampler', () => {
  it('decides a ratio exactly as the SDK\'s TraceIdRatioBasedSampler does, on 20,000 random ids', () => {
    for (const ratio of [0, 0.01, 0.25, 0.5, 1]) {
      const ours = new HeadSampler({ root: 'traceidratio', ratio, parentBased: false });
      const sdk = new TraceIdRatioBasedSampler(ratio);
      let agree = 0;
      for (let i = 0; i < 20_000; i++) {
        const id = randomHex(4);
        const theirs = sdk.shouldSample(ROOT_CONTEXT, id).decision === SamplingDecision.RECORD_AND_SAMPLED;
        if (ours.sampled(id, undefined) === theirs) agree++;
      }
      expect(agree, `ratio ${ratio}`).toBe(20_000);
    }
  });

  it('a new trace id\'s kept fold decides exactly as the id itself does', () => {
    const ids = new RandomIds();
    const s = new HeadSampler({ root: 'traceidratio', ratio: 0.3, parentBased: false });
    for (let i = 0; i < 10_000; i++) {
      const id = ids.traceId();
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect(s.sampled(id, undefined, ids.fold)).toBe(s.sampled(id, undefined));
    }
    expect(ids.spanId()).toMatch(/^[0-9a-f]{16}$/);
  });

  it('hands out ids that do not repeat across pool refills, trace and span ids interleaved', () => {
    const ids = new RandomIds();
    const seen = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      const t = ids.traceId();
      const s = ids.spanId();
      expect(t).toMatch(/^[0-9a-f]{32}$/);
      expect(s).toMatch(/^[0-9a-f]{16}$/);
      seen.add(t);
      seen.add(s);
    }
    expect(seen.size).toBe(10_000);
  });

  it('parent-based: follows the caller\'s flag; a root goes to the root sampler', () => {
    const s = new HeadSampler({ root: 'always_off', ratio: 1, parentBased: true });
    expect(s.sampled(TRACE, { traceId: TRACE, spanId: '00f067aa0ba902b7', sampled: true })).toBe(true);
    expect(s.sampled(TRACE, { traceId: TRACE, spanId: '00f067aa0ba902b7', sampled: false })).toBe(false);
    expect(s.sampled(TRACE, undefined)).toBe(false);
    const plain = new HeadSampler({ root: 'always_on', ratio: 1, parentBased: false });
    expect(plain.sampled(TRACE, { traceId: TRACE, spanId: '00f067aa0ba902b7', sampled: false })).toBe(true);
  });
});

describe('UnsampledTrace', () => {
  it('is its own client handle and writes one traceparent, sampled flag clear, for every try', () => {
    const t = new UnsampledTrace(TRACE);
    const client = t.startClient();
    expect(client).toBe(t);
    const a: Record<string, unknown> = { traceparent: 'old' };
    const b: Record<string, unknown> = {};
    client.inject(a);
    client.inject(b);
    expect(a.traceparent).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-00$`));
    expect(b.traceparent).toBe(a.traceparent);
    expect(parseTraceparent(String(a.traceparent))).toMatchObject({ traceId: TRACE, sampled: false });
  });
});
