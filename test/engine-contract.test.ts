/**
 * The contract every forwarding engine keeps, through the real sidecar (vitest.config.ts runs this
 * file once per engine): stale pooled connections are replayed once and only once, back-pressure
 * holds in both directions (a slow reader bounds what the sidecar buffers), a client that leaves
 * cancels the upstream exchange, per-try timers are precise below a second, framing survives
 * (chunked uploads, HEAD, informational answers, repeated Set-Cookie), a chunked answer's trailers
 * reach HTTP/1.1, HTTP/2 and library-mode clients, and the engine's pools are
 * what /clusters reports and what a reload keeps or releases.
 */
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { request as undiciRequest } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh } from '../src/index.js';
import { createLogger } from '../src/log.js';
import { Sidecar } from '../src/sidecar.js';
import { request, waitFor } from './helpers/http.js';
import { startSidecar, testListeners, TEST_ENGINE, writePolicy } from './helpers/sidecar.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const fn of cleanup.splice(0).reverse()) await fn(); });

async function upstream(handler?: http.RequestListener): Promise<Upstream> {
  const u = await startUpstream(handler);
  cleanup.push(() => u.close());
  return u;
}

function policy(up: Upstream, route = '', pool = ''): string {
  return `version: 1\n${testListeners()}\nupstreams: { u: { endpoints: [{ address: "${up.address}" }]${pool} } }\nroutes:\n  - { name: u, match: { host: u }, to: [{ upstream: u }]${route} }\n`;
}

async function sidecar(up: Upstream, route = '', pool = ''): Promise<Sidecar> {
  const s = await startSidecar(policy(up, route, pool));
  cleanup.push(() => s.close());
  return s;
}

/** Counts requests per upstream connection: `n` is 1 for the first request a connection carries. */
function perConnection(): (req: http.IncomingMessage) => number {
  const seen = new Map<unknown, number>();
  return (req) => {
    const n = (seen.get(req.socket) ?? 0) + 1;
    seen.set(req.socket, n);
    return n;
  };
}

describe(`engine contract (${TEST_ENGINE})`, () => {
  describe('stale pooled connections', () => {
    it('replays an idempotent request once when the upstream half-closes a reused connection instead of answering', async () => {
      const nth = perConnection();
      const up = await upstream((req, res) => {
        if (nth(req) > 1) { req.socket.end(); return; } // FIN, no answer: the pooled-socket race
        res.end('ok');
      });
      const s = await sidecar(up);
      expect((await request(s.ports.outbound, { headers: { host: 'u' } })).text).toBe('ok');
      const again = await request(s.ports.outbound, { headers: { host: 'u' } });
      expect([again.status, again.text]).toEqual([200, 'ok']);
      expect(up.seen.length).toBe(3);
    });

    it('replays at most once: a replay that meets a second stale connection answers 503 UC', async () => {
      // Two pooled connections (two requests held until both arrived), then every request on a
      // reused connection is reset: the try fails, its one replay takes the other pooled connection
      // and fails too, and there it stops.
      const nth = perConnection();
      const held: http.ServerResponse[] = [];
      const up = await upstream((req, res) => {
        if (nth(req) > 1) { req.socket.destroy(); return; }
        held.push(res);
        if (held.length === 2) for (const r of held.splice(0)) r.end('ok');
      });
      const s = await sidecar(up);
      const agent = new http.Agent({ keepAlive: false });
      await Promise.all([request(s.ports.outbound, { headers: { host: 'u' }, agent }), request(s.ports.outbound, { headers: { host: 'u' }, agent })]);
      const before = up.seen.length;
      const r = await request(s.ports.outbound, { headers: { host: 'u' } });
      expect(r.status).toBe(503);
      expect(r.headers['x-pilotfish-flags']).toBe('UC');
      expect(up.seen.length - before).toBe(2);
    });
  });

  describe('back-pressure', () => {
    it('a client that does not read bounds how much of a large answer the upstream can write', async () => {
      const total = 64 * 1024 * 1024;
      let written = 0;
      let aborted = false;
      const up = await upstream((_req, res) => {
        res.writeHead(200, { 'content-length': String(total) });
        const chunk = Buffer.alloc(64 * 1024, 7);
        res.on('close', () => { aborted = !res.writableFinished; });
        const pump = (): void => {
          while (written < total) {
            written += chunk.length;
            if (!res.write(chunk)) { res.once('drain', pump); return; }
          }
          res.end();
        };
        pump();
      });
      const s = await sidecar(up);
      // A raw client that sends its request and then never reads: its socket stays paused.
      const client = net.connect(s.ports.outbound, '127.0.0.1');
      cleanup.push(() => { client.destroy(); });
      client.pause();
      client.write('GET / HTTP/1.1\r\nhost: u\r\n\r\n');
      await waitFor(() => written > 0, { what: 'the upstream to start writing' });
      const plateau = await steady(() => written);
      // Kernel socket buffers on two loopback connections plus the engine's stream buffers: ~8 MiB
      // here on every engine. Without back-pressure the sidecar would take all 64 MiB into its heap.
      expect(plateau).toBeLessThan(32 * 1024 * 1024);
      client.destroy();
      await waitFor(() => aborted, { what: 'the upstream answer to be cut when the client left' });
      await waitFor(() => s.inflightRequests === 0, { what: 'the sidecar to forget the request' });
    });

    it('an upstream that does not read bounds how much of a large upload the client can send', async () => {
      let reading: http.IncomingMessage | undefined;
      const up = await upstream((req) => { reading = req; req.pause(); });
      const s = await sidecar(up);
      const total = 64 * 1024 * 1024;
      let sent = 0;
      const req = http.request({ host: '127.0.0.1', port: s.ports.outbound, method: 'PUT', headers: { host: 'u', 'content-length': String(total) }, agent: false });
      req.on('error', () => {});
      cleanup.push(() => { req.destroy(); });
      const chunk = Buffer.alloc(64 * 1024, 3);
      const pump = (): void => {
        while (sent < total) {
          sent += chunk.length;
          if (!req.write(chunk)) { req.once('drain', pump); return; }
        }
        req.end();
      };
      pump();
      await waitFor(() => reading !== undefined, { what: 'the upstream to get the request' });
      const plateau = await steady(() => sent);
      expect(plateau).toBeLessThan(32 * 1024 * 1024);
      // Reading again lets it all through: paused, not stuck.
      let received = 0;
      reading!.on('data', (c: Buffer) => { received += c.length; });
      reading!.resume();
      await waitFor(() => received === total, { timeoutMs: 15_000, what: 'the whole upload to arrive' });
    });
  });

  describe('a client that leaves', () => {
    it('mid-answer: the upstream answer is cut, its connection not reused, the request forgotten', async () => {
      let closedEarly = false;
      const up = await upstream((req, res) => {
        if (req.url === '/next') { res.end('fresh'); return; }
        res.writeHead(200);
        res.write('part one;');
        res.on('close', () => { closedEarly = !res.writableFinished; });
      });
      const s = await sidecar(up);
      await new Promise<void>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: s.ports.outbound, headers: { host: 'u' }, agent: false }, (res) => {
          res.once('data', () => { req.destroy(); resolve(); });
        });
        req.on('error', () => {});
        req.once('error', reject);
        req.end();
      });
      await waitFor(() => closedEarly, { what: 'the upstream answer to be cut' });
      await waitFor(() => s.inflightRequests === 0, { what: 'the sidecar to forget the request' });
      const next = await request(s.ports.outbound, { path: '/next', headers: { host: 'u' } });
      expect(next.text).toBe('fresh');
    });
  });

  describe('timers', () => {
    it('a per-try timeout below a second fires on time (undici alone would round it up to ~1 s)', async () => {
      const up = await upstream(() => { /* never answers */ });
      const s = await sidecar(up, ', retries: { attempts: 0, perTryTimeout: 150ms }');
      const t0 = performance.now();
      const r = await request(s.ports.outbound, { headers: { host: 'u' } });
      const took = performance.now() - t0;
      expect(r.status).toBe(504);
      expect(r.headers['x-pilotfish-flags']).toContain('UT');
      expect(took).toBeGreaterThanOrEqual(140);
      expect(took).toBeLessThan(700);
    });
  });

  describe('framing', () => {
    it('a chunked upload (no content-length) arrives whole, re-framed for the next hop', async () => {
      const up = await upstream();
      const s = await sidecar(up);
      const r = await new Promise<{ bodyBytes: number; headers: Record<string, string> }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: s.ports.outbound, method: 'POST', headers: { host: 'u', 'transfer-encoding': 'chunked' }, agent: false }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => { text += c.toString(); });
          res.on('end', () => resolve(JSON.parse(text)));
        });
        req.on('error', reject);
        req.write(Buffer.alloc(70_000, 1));
        setTimeout(() => req.end(Buffer.alloc(30_000, 2)), 20);
      });
      expect(r.bodyBytes).toBe(100_000);
      expect(r.headers['transfer-encoding']).toBe('chunked');
    });

    it('HEAD answers carry their headers and no body, and the next request on the pool works', async () => {
      const up = await upstream((req, res) => {
        res.writeHead(200, { 'content-length': '11', 'x-method': req.method ?? '' });
        res.end(req.method === 'HEAD' ? undefined : 'hello world');
      });
      const s = await sidecar(up);
      const head = await request(s.ports.outbound, { method: 'HEAD', headers: { host: 'u' } });
      expect([head.status, head.headers['content-length'], head.body.length]).toEqual([200, '11', 0]);
      const get = await request(s.ports.outbound, { headers: { host: 'u' } });
      expect(get.text).toBe('hello world');
    });

    it('an informational 103 is not taken for the answer; repeated Set-Cookie headers stay separate', async () => {
      const up = await upstream((_req, res) => {
        res.writeEarlyHints({ link: '</style.css>; rel=preload' });
        res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
        res.end('final');
      });
      const s = await sidecar(up);
      const r = await request(s.ports.outbound, { headers: { host: 'u' } });
      expect([r.status, r.text]).toEqual([200, 'final']);
      expect(r.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    });
  });

  describe('trailers of a chunked HTTP/1.1 answer', () => {
    /** Trailers the upstream sends: two to pass on, and fields no trailer section may carry. */
    const SENT = { 'x-checksum': 'c0ffee', 'x-rows': '3', 'content-type': 'text/evil', 'keep-alive': 'timeout=1', host: 'evil' };
    const PASSED = { 'x-checksum': 'c0ffee', 'x-rows': '3' };

    /**
     * `/whole`: the answer and its trailers in one go. `/streamed`: a first chunk, and the rest with
     * the trailers only once the client has that chunk (`release`), so they come after the body has
     * started flowing to the client.
     */
    async function trailing(): Promise<{ up: Upstream; release: () => void }> {
      let held: http.ServerResponse | undefined;
      let released = false;
      const finish = (res: http.ServerResponse): void => { res.addTrailers(SENT); res.end('-end'); };
      const up = await upstream((req, res) => {
        req.resume();
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum, x-rows' });
        res.write('start');
        if (req.url === '/streamed' && !released) held = res;
        else finish(res);
      });
      return { up, release: () => { released = true; if (held !== undefined) finish(held); } };
    }

    /** An HTTP/1.1 request: the body and the trailers node:http's client parsed; `onData` at the first chunk. */
    function h1(port: number, path: string, headers: http.OutgoingHttpHeaders, onData = (): void => {}): Promise<{ headers: http.IncomingHttpHeaders; body: string; trailers: NodeJS.Dict<string> }> {
      return new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path, headers: { host: 'u', ...headers }, agent: false }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => { body += c.toString(); onData(); });
          res.on('end', () => resolve({ headers: res.headers, body, trailers: res.trailers }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
    }

    it('reach an HTTP/1.1 client that said TE: trailers — whole or streamed — without the fields a trailer may not carry', async () => {
      const { up, release } = await trailing();
      const s = await sidecar(up);
      const whole = await h1(s.ports.outbound, '/whole', { te: 'trailers' });
      expect([whole.body, whole.headers['transfer-encoding'], whole.trailers]).toEqual(['start-end', 'chunked', PASSED]);
      const streamed = await h1(s.ports.outbound, '/streamed', { te: 'trailers' }, release);
      expect([streamed.body, streamed.trailers]).toEqual(['start-end', PASSED]);
    });

    it('are dropped for an HTTP/1.1 client that did not say TE: trailers, the answer intact', async () => {
      const { up, release } = await trailing();
      const s = await sidecar(up);
      const whole = await h1(s.ports.outbound, '/whole', {});
      expect([whole.body, whole.trailers]).toEqual(['start-end', {}]);
      const streamed = await h1(s.ports.outbound, '/streamed', {}, release);
      expect([streamed.body, streamed.trailers]).toEqual(['start-end', {}]);
    });

    it('reach an HTTP/2 client as a trailing HEADERS frame', async () => {
      const { up, release } = await trailing();
      const s = await sidecar(up, '', ', protocol: http1');
      const session = http2.connect(`http://127.0.0.1:${s.ports.outbound}`);
      session.on('error', () => {});
      cleanup.push(() => { session.destroy(); });
      const h2 = (path: string): Promise<{ body: string; trailers: http2.IncomingHttpHeaders | undefined }> => new Promise((resolve, reject) => {
        const stream = session.request({ ':path': path, ':authority': 'u' });
        let body = '';
        let trailers: http2.IncomingHttpHeaders | undefined;
        stream.on('data', (c: Buffer) => { body += c.toString(); release(); });
        stream.on('trailers', (t) => { trailers = t; });
        stream.on('end', () => resolve({ body, trailers: trailers === undefined ? undefined : Object.fromEntries(Object.entries(trailers)) }));
        stream.on('error', reject);
      });
      expect(await h2('/whole')).toEqual({ body: 'start-end', trailers: PASSED });
      expect(await h2('/streamed')).toEqual({ body: 'start-end', trailers: PASSED });
    });

    it('a trailer section carrying content-length (framing, which RFC 9110 §6.5.1 keeps out of trailers) cuts the answer off: no clean end, no hang', async () => {
      // Both HTTP/1.1 parsers (llhttp, in undici and in node:http) refuse the answer at that field,
      // after its head and body were passed on: the client must not take the body for whole.
      const up = await upstream((req, res) => {
        req.resume();
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('start');
        res.addTrailers({ 'x-checksum': 'c0ffee', 'content-length': '9' });
        res.end('-end');
      });
      const s = await sidecar(up, '', ', protocol: http1');
      await expect(h1(s.ports.outbound, '/', { te: 'trailers' })).rejects.toThrow('aborted');
      await expect(h1(s.ports.outbound, '/', {})).rejects.toThrow('aborted');
      const session = http2.connect(`http://127.0.0.1:${s.ports.outbound}`);
      session.on('error', () => {});
      cleanup.push(() => { session.destroy(); });
      const h2 = await new Promise<{ status: number; ended: boolean; trailers: boolean; rstCode: number | undefined }>((resolve) => {
        const stream = session.request({ ':path': '/', ':authority': 'u' });
        const seen = { status: 0, ended: false, trailers: false };
        stream.on('response', (h) => { seen.status = Number(h[':status']); });
        stream.on('trailers', () => { seen.trailers = true; });
        stream.on('end', () => { seen.ended = true; });
        stream.on('error', () => {});
        stream.resume();
        stream.on('close', () => resolve({ ...seen, rstCode: stream.rstCode }));
      });
      // RST_STREAM INTERNAL_ERROR: not an END_STREAM, nor a NO_ERROR reset (RFC 9113 §8.1: a whole answer).
      expect(h2).toEqual({ status: 200, ended: false, trailers: false, rstCode: http2.constants.NGHTTP2_INTERNAL_ERROR });
    });

    it('reach a library-mode caller in undici\'s onResponseEnd (undici.request\'s `trailers`)', async () => {
      const { up, release } = await trailing();
      const m = await createMesh({ policy: `version: 1\nupstreams: { u: { endpoints: [{ address: "${up.address}" }] } }\nroutes:\n  - { name: u, match: { host: u }, to: [{ upstream: u }] }\n`, engine: TEST_ENGINE });
      cleanup.push(() => m.close());
      const whole = await undiciRequest('http://u/whole', { dispatcher: m.dispatcher });
      expect(await whole.body.text()).toBe('start-end');
      expect({ ...whole.trailers }).toEqual(PASSED);
      const streamed = await undiciRequest('http://u/streamed', { dispatcher: m.dispatcher });
      let body = '';
      for await (const c of streamed.body) { body += (c as Buffer).toString(); release(); }
      expect([body, { ...streamed.trailers }]).toEqual(['start-end', PASSED]);
    });
  });

  describe('pools', () => {
    it('/clusters shows the upstream connections the engine holds: active while busy, idle after', async () => {
      let hold: http.ServerResponse | undefined;
      const up = await upstream((req, res) => { if (req.url === '/hold') hold = res; else res.end('ok'); });
      const s = await sidecar(up);
      const connections = async (): Promise<{ active: number; idle: number }> => {
        const c = (await request(s.ports.admin, { path: '/clusters' })).json();
        return c.upstreams.find((u: { name: string }) => u.name === 'u').connections;
      };
      expect(await connections()).toEqual({ active: 0, idle: 0 });
      const pending = request(s.ports.outbound, { path: '/hold', headers: { host: 'u' } });
      await waitFor(() => hold !== undefined, { what: 'the held request' });
      expect(await connections()).toEqual({ active: 1, idle: 0 });
      hold!.end('done');
      await pending;
      await waitFor(async () => JSON.stringify(await connections()) === JSON.stringify({ active: 0, idle: 1 }), { what: 'the connection to be pooled' });
    });

    it('a reload keeps an unchanged upstream\'s pooled connection; removing it closes idle ones now and busy ones when their request ends', async () => {
      let hold: http.ServerResponse | undefined;
      const a = await upstream((req, res) => { if (req.url === '/hold') hold = res; else res.end('a'); });
      const b = await upstream((_req, res) => res.end('b'));
      const text = (withA: boolean): string => `version: 1\n${testListeners()}\nupstreams:\n${withA ? `  a: { endpoints: [{ address: "${a.address}" }] }\n` : ''}  b: { endpoints: [{ address: "${b.address}" }] }\nroutes:\n${withA ? '  - { name: a, match: { host: a }, to: [{ upstream: a }] }\n' : ''}  - { name: b, match: { host: b }, to: [{ upstream: b }] }\n`;
      const file = await writePolicy(text(true));
      const s = await Sidecar.start({ policyFile: file, log: createLogger('silent'), engine: TEST_ENGINE, watch: false });
      cleanup.push(() => s.close());
      const get = async (host: string, path = '/'): Promise<string> => (await request(s.ports.outbound, { path, headers: { host } })).text;
      // Two connections to a: one busy with a held request, one pooled idle.
      const held = get('a', '/hold');
      await waitFor(() => hold !== undefined, { what: 'the held request' });
      expect(await get('a')).toBe('a');
      expect(a.sockets.size).toBe(2);
      expect(await get('b')).toBe('b');
      const bSocket = b.seen.at(-1)!.socket;
      await writeFile(file, `${text(true)}# an unrelated edit\n`);
      expect((await s.reload('signal')).result).toBe('ok');
      expect(await get('b')).toBe('b');
      expect(b.seen.at(-1)!.socket).toBe(bSocket); // b unchanged: the same pooled connection
      await writeFile(file, text(false));
      expect((await s.reload('signal')).result).toBe('ok');
      await waitFor(() => a.sockets.size === 1, { what: 'the idle connection to a to close' });
      hold!.end('held');
      expect(await held).toBe('held'); // the busy one finished its request…
      await waitFor(() => a.sockets.size === 0, { what: '…and then closed' });
    });
  });
});

/** Polls `value` until it stops growing for 400 ms (or 10 s pass) and returns it. */
async function steady(value: () => number): Promise<number> {
  const deadline = Date.now() + 10_000;
  let last = value();
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const v = value();
    if (v !== last) { last = v; since = Date.now(); } else if (Date.now() - since >= 400) break;
  }
  return last;
}
