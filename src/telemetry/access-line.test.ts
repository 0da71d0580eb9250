import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RequestDone } from '../core/observer.js';
import type { AccessContext } from './access-log.js';
import { formatLine } from './access-line.js';

/** The line as the access log's template made it before its destination part was remembered: the reference. */
function templateLine(ctx: AccessContext, d: RequestDone, traceId: string): string {
  const str = (s: string): string => (/[^\x20-\x21\x23-\x5b\x5d-\x7e]/.test(s) ? JSON.stringify(s) : `"${s}"`);
  const thousandths = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
  const millis = (ms: number): string => {
    const us = Math.round(ms * 1000);
    return `${Math.floor(us / 1000)}.${thousandths[us % 1000]!}`;
  };
  const q = d.path.indexOf('?');
  return `{"log":"access","time":"${new Date().toISOString()}","direction":"${ctx.direction}","method":${str(d.method)},"host":${str(d.host)},`
    + `"path":${str(q < 0 ? d.path : d.path.slice(0, q))},"status":${d.status},"flags":"${ctx.flags.length === 0 ? '' : ctx.flags.join(',')}",`
    + `"route":${str(ctx.route)},"upstream":${str(ctx.upstream)},"subset":${str(ctx.subset)},"endpoint":${str(ctx.endpoint)},`
    + `"attempts":${ctx.attempts},"duration":${millis(d.durationMs)},"bytesIn":${d.bytesIn},"bytesOut":${d.bytesOut},`
    + `"traceId":"${traceId}","generation":${ctx.generation},"requestId":${str(ctx.requestId)},"peer":${str(ctx.peer)}`
    + `${ctx.transportFailure === '' ? '' : `,"upstreamTransportFailure":${str(ctx.transportFailure)}`},`
    + `"protocol":"${d.protocol ?? 'HTTP/1.1'}"${d.grpcStatus === undefined ? '' : `,"grpcStatus":${d.grpcStatus}`}}\n`;
}

const ctx: AccessContext = {
  direction: 'outbound', requestId: '2f1c9a40-3b6e-4d8a-9f2e-7c5d1b0a4e36', generation: 3, flags: [],
  route: 'reviews', upstream: 'reviews', subset: 'v2', endpoint: '10.0.0.12:9080', attempts: 1,
  peer: '', transportFailure: '',
};
const done: RequestDone = { method: 'GET', host: 'reviews:9080', path: '/reviews/1?token=secret', status: 200, durationMs: 1.2345, bytesIn: 78, bytesOut: 180 };

const odd = ['', 'a"b', 'back\\slash', 'tab\there', '\u0000\u001f\u007f', 'é', '€', '😀', '\ud800', 'x\udc00y', '\u2028', ' !#[]~', '?', 'a?b"c'];
const numbers = [0, 1, 9, 10, 99, 100, 4294967295, 4294967296, 2 ** 53, -1, -0, 1.5, NaN, Infinity, -Infinity, 1e21];
const durations = [0, -0, 0.0004, 0.0005, 0.9995, 1, 12.345678, 999.9999, 4294967.295, 4294967.296, 1e12, -0.0004, -0.002, -5, NaN, Infinity, -Infinity];

/** A time where every part of the ISO string changes digits; and the milliseconds 0, 7, 42, 999. */
const times = [Date.UTC(2026, 11, 2, 5, 9, 13, 0), Date.UTC(2026, 0, 1, 0, 0, 0, 7), Date.UTC(1999, 11, 31, 23, 59, 59, 999), Date.UTC(2026, 5, 15, 12, 30, 45, 42)];

describe('the access line', () => {
  beforeAll(() => { vi.useFakeTimers({ toFake: ['Date'] }); });
  afterAll(() => { vi.useRealTimers(); });

  const cases: Array<[string, AccessContext, RequestDone, string]> = [];
  cases.push(['the common line', ctx, done, '']);
  cases.push(['flags, a trace id, a peer, a TLS failure, HTTP/2 and gRPC', { ...ctx, flags: ['UF', 'URX'], peer: 'spiffe://cluster.local/ns/shop/sa/frontend', transportFailure: 'TLS: "x" not in [a, b]' },
    { ...done, protocol: 'HTTP/2', grpcStatus: 14 }, '4bf92f3577b34da6a3ce929d0e0e4736']);
  for (const s of odd) {
    cases.push([`peer-controlled fields ${JSON.stringify(s)}`, { ...ctx, requestId: s, peer: s, route: s, upstream: s, subset: s, endpoint: s, transportFailure: s },
      { ...done, method: s, host: s, path: `/p${s}?q${s}` }, '']);
    cases.push([`fields the sidecar makes ${JSON.stringify(s)}`, { ...ctx, direction: s, flags: [s, s] }, done, s]);
  }
  for (const n of numbers) {
    cases.push([`the number ${n}`, { ...ctx, attempts: n, generation: n }, { ...done, status: n, bytesIn: n, bytesOut: n, grpcStatus: n }, '']);
  }
  for (const ms of durations) cases.push([`the duration ${ms}`, ctx, { ...done, durationMs: ms }, '']);
  cases.push(['a long path', ctx, { ...done, path: `/${'ü'.repeat(5000)}/${'x'.repeat(5000)}` }, '']);

  it.each(cases)('%s: the reference line, also right after a line to another destination', (_name, c, d, traceId) => {
    for (const t of times) {
      vi.setSystemTime(t);
      expect(formatLine(c, d, traceId)).toBe(templateLine(c, d, traceId));
      expect(formatLine(c, d, traceId)).toBe(templateLine(c, d, traceId)); // the remembered parts
      const other = { ...c, subset: `${c.subset}x` };
      expect(formatLine(other, d, traceId)).toBe(templateLine(other, d, traceId));
    }
  });
});
