/**
 * The edge's limits over real sockets (SPEC §5 "Limits and overload", issue 13.4): oversized heads
 * and too many fields are 431 with nothing forwarded (not node:http's 16 KiB / 400), a trickled head
 * is cut with 408 after headersTimeout without slowing anyone else, connections past maxConnections
 * are closed on arrival and counted, and ambiguous framing is 400.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Sidecar } from '../src/sidecar.js';
import { request, waitFor } from './helpers/http.js';
import { connectRaw, exchange, parseResponses, type RawConnection } from './helpers/raw-http.js';
import { metricSum, startObserved, testListeners } from './helpers/sidecar.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const fn of cleanup.splice(0).reverse()) await fn(); });

async function setup(outbound = ''): Promise<{ s: Sidecar; u: Upstream; metrics: () => Promise<string> }> {
  // The upstream takes heads as large as the sidecar forwards (node:http's own default is 16 KiB).
  const u = await startUpstream(undefined, { maxHeaderSize: 128 * 1024 });
  cleanup.push(() => u.close());
  const listeners = testListeners().replace('outbound: { port: 0, address: 127.0.0.1 }', `outbound: { port: 0, address: 127.0.0.1${outbound} }`);
  const { sidecar, metrics } = await startObserved(`version: 1\n${listeners}\nupstreams: { u: { endpoints: [{ address: "${u.address}" }] } }\nroutes: [{ name: r, match: { host: svc }, to: [{ upstream: u }] }]\n`);
  cleanup.push(() => sidecar.close());
  return { s: sidecar, u, metrics };
}

const head = (extra: string): string => `GET /x HTTP/1.1\r\nhost: svc\r\n${extra}connection: close\r\n\r\n`;
const fields = (n: number): string => Array.from({ length: n }, (_, i) => `x-f${i}: v\r\n`).join('');

describe('request head limits (defaults: 60 KiB, 100 fields)', () => {
  it('a 30 KiB head passes (node:http alone stops at 16 KiB); 59 KiB passes; 61 KiB is 431 and nothing is forwarded', async () => {
    const { s, u, metrics } = await setup();
    for (const kb of [30, 59]) {
      const r = await request(s.ports.outbound, { headers: { host: 'svc', 'x-big': 'a'.repeat(kb * 1024) } });
      expect(r.status, `${kb} KiB`).toBe(200);
    }
    expect(u.seen).toHaveLength(2);
    const { data } = await exchange(s.ports.outbound, head(`x-big: ${'a'.repeat(61 * 1024)}\r\n`));
    const [answer] = parseResponses(data).responses;
    expect(answer?.status).toBe(431);
    expect(answer?.headers.connection).toBe('close');
    expect(JSON.parse(answer!.body.toString())).toMatchObject({ flags: '' });
    // A long request target counts against the same limit.
    const long = await exchange(s.ports.outbound, `GET /${'p'.repeat(61 * 1024)} HTTP/1.1\r\nhost: svc\r\n\r\n`);
    expect(parseResponses(long.data).responses[0]?.status).toBe(431);
    expect(u.seen).toHaveLength(2);
    expect(metricSum(await metrics(), 'pilotfish_downstream_rejected_total', { listener: 'outbound', reason: 'header-too-large' })).toBe(2);
  });

  it('100 fields pass; 101 and 150 are 431 and nothing is forwarded', async () => {
    const { s, u } = await setup();
    const ok = parseResponses((await exchange(s.ports.outbound, head(fields(98)))).data).responses; // + host + connection = 100
    expect(ok.map((r) => r.status)).toEqual([200]);
    for (const n of [99, 148]) {
      const { data } = await exchange(s.ports.outbound, head(fields(n)));
      expect(parseResponses(data).responses.map((r) => r.status), `${n + 2} fields`).toEqual([431]);
    }
    expect(u.seen).toHaveLength(1);
  });

  it('the limits come from the listener: maxRequestHeadersKb 2 and maxHeadersCount 10 tighten them', async () => {
    const { s, u } = await setup(', maxRequestHeadersKb: 2, maxHeadersCount: 10');
    expect(parseResponses((await exchange(s.ports.outbound, head(`x-big: ${'a'.repeat(1500)}\r\n`))).data).responses[0]?.status).toBe(200);
    expect(parseResponses((await exchange(s.ports.outbound, head(`x-big: ${'a'.repeat(2100)}\r\n`))).data).responses[0]?.status).toBe(431);
    expect(parseResponses((await exchange(s.ports.outbound, head(fields(8)))).data).responses[0]?.status).toBe(200);
    expect(parseResponses((await exchange(s.ports.outbound, head(fields(9)))).data).responses[0]?.status).toBe(431);
    expect(u.seen).toHaveLength(2);
  });

  it('ambiguous framing (Content-Length with Transfer-Encoding, two lengths) is 400 and not forwarded', async () => {
    const { s, u } = await setup();
    for (const framing of ['content-length: 5\r\ntransfer-encoding: chunked\r\n', 'content-length: 5\r\ncontent-length: 6\r\n', 'transfer-encoding: gzip, chunked, identity\r\n']) {
      const { data } = await exchange(s.ports.outbound, `POST /x HTTP/1.1\r\nhost: svc\r\n${framing}\r\nhello`);
      expect(parseResponses(data).responses.map((r) => r.status), framing).toEqual([400]);
    }
    expect(u.seen).toHaveLength(0);
  });
});

describe('headersTimeout', () => {
  it('200 connections trickling a byte a second do not slow normal requests, and are cut with 408 when it expires', async () => {
    const { s, metrics } = await setup(', headersTimeout: 2500ms');
    const latencies = async (n: number): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        expect((await request(s.ports.outbound, { headers: { host: 'svc' } })).status).toBe(200);
        times.push(performance.now() - t);
      }
      return times.sort((a, b) => a - b)[Math.floor(n / 2)]!;
    };
    const before = await latencies(50);
    const tricklers: RawConnection[] = [];
    for (let i = 0; i < 200; i++) tricklers.push(await connectRaw(s.ports.outbound));
    const head = 'GET /slow HTTP/1.1\r\nhost: svc\r\nx-trickle: ';
    let sent = 0;
    const tick = (): void => { for (const t of tricklers) if (!t.socket.destroyed) t.socket.write(sent < head.length ? head[sent]! : 'a'); sent++; };
    tick();
    const timer = setInterval(tick, 1000);
    cleanup.push(() => clearInterval(timer));
    const during = await latencies(50);
    // Full speed: the median is within a small factor of the one measured without them.
    expect(during).toBeLessThan(before * 3 + 10);
    const cut = await Promise.all(tricklers.map((t) => t.closed));
    clearInterval(timer);
    // Cut after 2.5 s (+ the sweep, a tenth of it, and scheduling slack), and not before.
    for (const ms of cut) {
      expect(ms).toBeGreaterThanOrEqual(2400);
      expect(ms).toBeLessThan(4500);
    }
    expect(tricklers.every((t) => parseResponses(t.received()).responses[0]?.status === 408)).toBe(true);
    expect(metricSum(await metrics(), 'pilotfish_downstream_rejected_total', { reason: 'headers-timeout' })).toBe(200);
    // An idle keep-alive connection is not a trickled head: it outlives headersTimeout.
    const idle = await connectRaw(s.ports.outbound);
    idle.socket.write('GET /a HTTP/1.1\r\nhost: svc\r\n\r\n');
    await waitFor(() => parseResponses(idle.received()).responses.length === 1, { what: 'the first answer' });
    await new Promise((r) => setTimeout(r, 3000)); // deliberately idle past headersTimeout
    idle.socket.write('GET /b HTTP/1.1\r\nhost: svc\r\n\r\n');
    await waitFor(() => parseResponses(idle.received()).responses.length === 2, { what: 'the second answer' });
    expect(parseResponses(idle.received()).responses.map((r) => r.status)).toEqual([200, 200]);
    idle.socket.destroy();
  }, 30_000);
});

describe('maxConnections', () => {
  it('closes connections past the cap at once, counts them, and accepts again when one closes', async () => {
    const { s, metrics } = await setup(', maxConnections: 5');
    const open: RawConnection[] = [];
    for (let i = 0; i < 5; i++) open.push(await connectRaw(s.ports.outbound));
    open[0]!.socket.write('GET / HTTP/1.1\r\nhost: svc\r\n\r\n');
    await waitFor(() => parseResponses(open[0]!.received()).responses.length === 1, { what: 'an answer on a capped listener' });
    const extra = await connectRaw(s.ports.outbound);
    extra.socket.write('GET / HTTP/1.1\r\nhost: svc\r\n\r\n');
    expect(await extra.closed).toBeLessThan(1000);
    expect(extra.received().length).toBe(0);
    expect(metricSum(await metrics(), 'pilotfish_downstream_connections_overflow_total', { listener: 'outbound' })).toBe(1);
    open[4]!.socket.destroy();
    await open[4]!.closed;
    const again = await waitFor(async () => {
      const r = await exchange(s.ports.outbound, 'GET / HTTP/1.1\r\nhost: svc\r\nconnection: close\r\n\r\n');
      return parseResponses(r.data).responses[0]?.status === 200;
    }, { what: 'a free slot after a connection closed' });
    expect(again).toBe(true);
    for (const c of open) c.socket.destroy();
  });
});

describe('config_dump and validate', () => {
  it('/config_dump shows every limit with its default filled in', async () => {
    const { s } = await setup(', headersTimeout: 3s');
    const dump = (await request(s.ports.admin, { path: '/config_dump' })).json();
    expect(dump.policy.listeners.outbound).toMatchObject({ headersTimeout: 3000, maxConnections: 10_000, maxRequestHeadersKb: 60, maxHeadersCount: 100 });
    expect(dump.policy.listeners.inbound).toMatchObject({ headersTimeout: 10_000 });
    expect(dump.policy.overload).toEqual({ shedAbove: 90, resumeBelow: 80, interval: 250 });
  });
});
