/**
 * The load generator against real servers: the open-loop timetable, latency counted from the
 * intended send time (so a stall is not hidden), the closed-loop concurrency bound, counts,
 * timeouts, and what it records from each answer.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { runLoad } from '../../src/chaos/load-generator.js';
import type { LoadSpec } from '../../src/chaos/load-schema.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let up: Upstream | undefined;
afterEach(async () => { await up?.close(); up = undefined; });

const spec = (s: Partial<LoadSpec>): LoadSpec => ({
  requests: [{ method: 'GET', path: '/', headers: {}, weight: 1 }], timeout: 5000, ...s,
});
const target = (): URL => new URL(`http://${up!.address}`);
const ok: http.RequestListener = (_req, res) => { res.end('ok'); };

describe('open loop (rate)', () => {
  it('sends on the timetable: rate × duration requests, spread over the duration', async () => {
    up = await startUpstream(ok);
    const start = performance.now();
    const samples = await runLoad({ spec: spec({ rate: 200, duration: 1000 }), target: target() });
    expect(samples).toHaveLength(200);
    expect(samples.every((s) => s.status === 200)).toBe(true);
    expect(performance.now() - start).toBeGreaterThan(990);
    // Request i was meant for i × 5 ms.
    expect(samples[100]!.scheduledAt).toBeCloseTo(500, 5);
  });

  it('counts latency from the intended send time, so a stall shows in every request it delayed', async () => {
    // The server holds every answer until 400 ms after the first request arrived.
    let gate: Promise<void> | undefined;
    up = await startUpstream((_req, res) => {
      gate ??= new Promise((r) => setTimeout(r, 400));
      void gate.then(() => res.end('late'));
    });
    const open = await runLoad({ spec: spec({ rate: 100, duration: 700 }), target: target() });
    const stalled = open.filter((s) => s.scheduledAt < 350);
    // Requests due at 0…350 ms all waited for the gate at ~400 ms: latency ≈ 400 − scheduledAt.
    for (const s of stalled) expect(s.latency).toBeGreaterThanOrEqual(400 - s.scheduledAt - 15);
    expect(open.filter((s) => s.latency > 250).length).toBeGreaterThanOrEqual(13);

    // A closed loop in the same situation sees one slow request: the rest were simply never sent.
    gate = undefined;
    const closed = await runLoad({ spec: spec({ concurrency: 1, duration: 700 }), target: target() });
    expect(closed.filter((s) => s.latency > 250)).toHaveLength(1);
  });
});

describe('closed loop (concurrency)', () => {
  it('keeps exactly `concurrency` requests in flight', async () => {
    let inflight = 0;
    let peak = 0;
    up = await startUpstream((_req, res) => {
      peak = Math.max(peak, ++inflight);
      setTimeout(() => { inflight--; res.end('ok'); }, 20);
    });
    const samples = await runLoad({ spec: spec({ concurrency: 5, duration: 400 }), target: target() });
    expect(peak).toBe(5);
    expect(samples.length).toBeGreaterThan(40); // ~5 × 400/20 = 100 when unhurried
  });

  it('stops at `count`', async () => {
    up = await startUpstream(ok);
    expect(await runLoad({ spec: spec({ concurrency: 4, count: 37 }), target: target() })).toHaveLength(37);
  });
});

describe('what is recorded', () => {
  it('status, flags, instance, bytes; templates with host, headers and ${seq}', async () => {
    up = await startUpstream((req, res) => {
      res.writeHead(req.headers.host === 'reviews' ? 503 : 400, {
        'x-pilotfish-flags': 'UF,URX', 'x-chaos-instance': `reviews-${req.headers['x-user']}`, 'x-chaos-upstream': 'reviews',
      });
      res.end('12345');
    });
    const s = await runLoad({
      spec: spec({ rate: 50, count: 3, requests: [{ method: 'POST', path: '/x', host: 'reviews', headers: { 'x-user': 'u${seq}' }, body: 'b', weight: 1 }] }),
      target: target(),
    });
    expect(s.map((x) => x.instance)).toEqual(['reviews-u0', 'reviews-u1', 'reviews-u2']);
    expect(s[0]).toMatchObject({ status: 503, flags: ['UF', 'URX'], upstream: 'reviews', bytes: 5 });
    expect(up.seen[0]).toMatchObject({ method: 'POST', url: '/x' });
  });

  it('a request unanswered within the timeout is an error, not a hang', async () => {
    up = await startUpstream(() => {});
    const [s] = await runLoad({ spec: spec({ rate: 10, count: 1, timeout: 100 }), target: target() });
    expect(s).toMatchObject({ status: 0, error: 'TIMEOUT' });
    expect(s!.latency).toBeGreaterThanOrEqual(99);
  });

  it('stops early when aborted', async () => {
    up = await startUpstream(ok);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const samples = await runLoad({ spec: spec({ rate: 100, duration: 10_000 }), target: target(), signal: abort.signal });
    expect(samples.length).toBeLessThan(50);
  });
});
