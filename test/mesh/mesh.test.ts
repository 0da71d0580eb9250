/**
 * Library mode's own surface (SPEC §10), in process against real upstreams on loopback: the three
 * ways into the dispatcher (undici's request and fetch, the runtime's fetch), Request objects,
 * streamed bodies both ways, AbortSignal, runtime faults with a TTL, reload (file watch, forced,
 * invalid), metrics and a merged registry, explain, and close letting calls in flight finish.
 */
import http from 'node:http';
import { writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { fetch as undiciFetch, request as undiciRequest } from 'undici';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../src/index.js';
import { waitFor } from '../helpers/http.js';
import { TEST_ENGINE, writePolicy } from '../helpers/sidecar.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const fn of cleanup.splice(0).reverse()) await fn(); });

async function upstream(handler?: http.RequestListener): Promise<Upstream> {
  const u = await startUpstream(handler);
  cleanup.push(() => u.close());
  return u;
}

async function mesh(policy: string | object, extra: Record<string, unknown> = {}): Promise<Mesh> {
  const m = await createMesh({ policy, engine: TEST_ENGINE, ...extra });
  cleanup.push(() => m.close());
  return m;
}

const oneRoute = (u: Upstream, route = ''): string => `version: 1
upstreams: { u: { endpoints: [{ address: "${u.address}" }] } }
routes:
  - name: r
    match: { host: svc }
    to: [{ upstream: u }]
${route}`;

describe('the dispatcher', () => {
  it('serves undici.request, undici fetch and the runtime\'s fetch with a Request object', async () => {
    const u = await upstream();
    const m = await mesh(oneRoute(u));
    const r1 = await undiciRequest('http://svc/a?x=1', { dispatcher: m.dispatcher, headers: { 'x-one': '1' } });
    expect(r1.statusCode).toBe(200);
    const seen1 = await r1.body.json() as { url: string; headers: Record<string, string> };
    expect(seen1.url).toBe('/a?x=1');
    expect(seen1.headers['x-one']).toBe('1');
    const r2 = await undiciFetch('http://svc/b', { dispatcher: m.dispatcher });
    expect((await r2.json() as { url: string }).url).toBe('/b');
    const r3 = await fetch(new Request('http://svc/c', { method: 'PUT', body: 'abc', headers: { 'x-three': '3' } }), { dispatcher: m.dispatcher } as unknown as RequestInit);
    const seen3 = await r3.json() as { method: string; url: string; headers: Record<string, string>; bodyBytes: number };
    expect([seen3.method, seen3.url, seen3.headers['x-three'], seen3.bodyBytes]).toEqual(['PUT', '/c', '3', 3]);
    expect(r3).toBeInstanceOf(Response); // the runtime's own Response class
  });

  it('hands the answer\'s headers to every client whole: repeated set-cookie, the flags, no hop-by-hop', async () => {
    const u = await upstream((req, res) => {
      req.resume();
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
      res.setHeader('x-upstream', 'yes');
      res.end('ok');
    });
    const m = await mesh(oneRoute(u));
    const r1 = await undiciRequest('http://svc/h', { dispatcher: m.dispatcher });
    await r1.body.text();
    expect([r1.headers['set-cookie'], r1.headers['x-upstream'], r1.headers.connection, r1.headers['keep-alive']]).toEqual([['a=1; Path=/', 'b=2; Path=/'], 'yes', undefined, undefined]);
    const raw = await undiciRequest('http://svc/h', { dispatcher: m.dispatcher, responseHeaders: 'raw' } as Parameters<typeof undiciRequest>[1]);
    await raw.body.text();
    const pairs = (raw.headers as unknown as string[]).map(String);
    expect(pairs.filter((_v, i) => i % 2 === 0 && pairs[i] === 'set-cookie').length).toBe(2);
    expect(pairs[pairs.indexOf('x-upstream') + 1]).toBe('yes');
    for (const f of [undiciFetch, fetch] as Array<(url: string, init: object) => Promise<Response>>) {
      const r = await f('http://svc/h', { dispatcher: m.dispatcher });
      expect(await r.text()).toBe('ok');
      expect([r.headers.getSetCookie(), r.headers.get('x-upstream'), r.headers.get('keep-alive')]).toEqual([['a=1; Path=/', 'b=2; Path=/'], 'yes', null]);
    }
    const flagged = await m.fetch('http://nowhere/');
    expect([flagged.status, flagged.headers.get('x-pilotfish-flags')]).toEqual([404, 'NR']);
  });

  it('streams a request body in and a response body out', async () => {
    const u = await upstream((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => { n += c.length; });
      req.on('end', () => {
        res.writeHead(200, { 'x-received': String(n) });
        // 4 MiB out, in 64 KiB writes honouring back-pressure.
        let left = 64;
        const chunk = Buffer.alloc(64 * 1024, 1);
        const pump = (): void => { while (left > 0) { left--; if (!res.write(chunk)) { res.once('drain', pump); return; } } res.end(); };
        pump();
      });
    });
    const m = await mesh(oneRoute(u));
    const upload = Readable.toWeb(Readable.from((function* () { for (let i = 0; i < 40; i++) yield Buffer.alloc(64 * 1024, 2); })()));
    const r = await m.fetch('http://svc/upload', { method: 'POST', body: upload as ReadableStream, duplex: 'half' } as RequestInit);
    expect(r.headers.get('x-received')).toBe(String(40 * 64 * 1024));
    let got = 0;
    for await (const c of r.body as unknown as AsyncIterable<Uint8Array>) got += c.length;
    expect(got).toBe(4 * 1024 * 1024);
    expect(u.seen[0]!.headers['transfer-encoding']).toBe('chunked');
  });

  it('a slow reader paces the upstream and still gets every byte (pause and resume through the dispatcher)', async () => {
    const chunk = Buffer.alloc(64 * 1024);
    let waitedForDrain = 0;
    const u = await upstream((req, res) => {
      req.resume();
      let left = 64;
      const pump = (): void => {
        while (left > 0) { chunk.fill(left % 251); left--; if (!res.write(Buffer.from(chunk))) { waitedForDrain++; res.once('drain', pump); return; } }
        res.end();
      };
      pump();
    });
    const m = await mesh(oneRoute(u));
    const r = await undiciRequest('http://svc/big', { dispatcher: m.dispatcher });
    let got = 0;
    let sum = 0;
    for await (const c of r.body as AsyncIterable<Buffer>) {
      got += c.length;
      for (let i = 0; i < c.length; i++) sum += c[i]!;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(got).toBe(4 * 1024 * 1024);
    let want = 0;
    for (let left = 64; left > 0; left--) want += (left % 251) * 64 * 1024;
    expect(sum).toBe(want);
    expect(waitedForDrain).toBeGreaterThan(0); // the reader's pace reached the upstream
  });

  it('an AbortSignal cancels the call and the upstream request', async () => {
    let closed = false;
    const u = await upstream((req) => { req.socket.on('close', () => { closed = true; }); });
    const m = await mesh(oneRoute(u));
    const ac = new AbortController();
    const p = m.fetch('http://svc/hang', { signal: ac.signal });
    await waitFor(() => u.seen.length === 1, { what: 'the call upstream' });
    ac.abort();
    await expect(p).rejects.toThrow(/abort/i);
    await waitFor(() => closed, { what: 'the upstream request to be cancelled' });
  });
});

describe('what the mesh cannot route', () => {
  it('refuses https:// under registry-only with the sidecar\'s 404 NR, and upgrades outright', async () => {
    const u = await upstream();
    const m = await mesh(oneRoute(u));
    const r = await undiciRequest('https://svc/secret', { dispatcher: m.dispatcher });
    expect([r.statusCode, r.headers['x-pilotfish-flags']]).toEqual([404, 'NR']);
    expect(await r.body.json()).toMatchObject({ flags: 'NR' });
    await expect(undiciRequest('http://svc/ws', { dispatcher: m.dispatcher, upgrade: 'websocket' } as Parameters<typeof undiciRequest>[1])).rejects.toThrow(/not routed/);
    expect(u.seen.length).toBe(0);
  });
});

describe('runtime faults', () => {
  it('mesh.faults adds a fault with a TTL and removes it', async () => {
    const u = await upstream();
    const m = await mesh(oneRoute(u));
    const id = m.faults.add({ route: 'r', abort: { status: 503, percent: 100 }, ttl: 60_000 });
    const r = await m.fetch('http://svc/');
    expect([r.status, r.headers.get('x-pilotfish-flags')]).toEqual([503, 'FI']);
    expect(m.faults.list().map((f) => f.id)).toEqual([id]);
    expect(m.faults.remove(id)).toBe(true);
    expect((await m.fetch('http://svc/')).status).toBe(200);
    m.faults.add({ route: 'r', abort: { status: 500, percent: 100 }, ttl: 100 });
    await waitFor(async () => (await m.fetch('http://svc/')).status === 200, { timeoutMs: 3000, what: 'the fault to expire' });
  });
});

describe('reload', () => {
  it('follows the policy file as the sidecar does, and keeps the last good policy on an invalid one', async () => {
    const a = await upstream((_req, res) => res.end('a'));
    const b = await upstream((_req, res) => res.end('b'));
    const file = await writePolicy(oneRoute(a));
    const m = await mesh(file);
    expect(await (await m.fetch('http://svc/')).text()).toBe('a');
    await writeFile(file, oneRoute(b));
    await waitFor(async () => (await (await m.fetch('http://svc/')).text()) === 'b', { timeoutMs: 8000, what: 'the watched file to apply' });
    await writeFile(file, 'version: 1\nroutes:\n  - name: r\n    match: { host: svc }\n    to: [{ upstream: nowhere }]\n');
    const bad = await m.reload();
    expect(bad.result).toBe('error');
    expect(bad.errors?.[0]).toMatchObject({ file, line: 5 });
    expect(await (await m.fetch('http://svc/')).text()).toBe('b');
  });

  it('mesh.reload(policy) applies a new policy object', async () => {
    const a = await upstream((_req, res) => res.end('a'));
    const m = await mesh(oneRoute(a));
    const g = m.generation;
    const r = await m.reload({ version: 1, upstreams: { u: { endpoints: [{ address: a.address }] } }, routes: [{ name: 'r2', match: { host: 'other' }, to: [{ upstream: 'u' }] }] });
    expect(r.result).toBe('ok');
    expect(m.generation).toBe(g + 1);
    expect((await m.fetch('http://svc/')).status).toBe(404);
    expect(await (await m.fetch('http://other/')).text()).toBe('a');
  });

  it('an invalid policy at creation is refused with its diagnostics', async () => {
    await expect(createMesh({ policy: 'version: 1\nroutes:\n  - name: r\n    to: [{ upstream: nowhere }]\n' })).rejects.toThrow(/\(policy text\):\d+:\d+/);
  });
});

describe('telemetry and explain', () => {
  it('counts calls with the SPEC §6 names in a registry the application can merge', async () => {
    const u = await upstream();
    const m = await mesh(oneRoute(u));
    for (let i = 0; i < 3; i++) await (await m.fetch('http://svc/')).text();
    const text = await m.metrics();
    expect(text).toMatch(/pilotfish_requests_total\{[^}]*direction="outbound"[^}]*route="r"[^}]*\} 3/);
    expect(text).toMatch(/pilotfish_upstream_attempts_total\{[^}]*upstream="u"/);
    expect(text).not.toMatch(/^process_cpu/m); // the application's own process metrics are its own
    const app = new Registry();
    const merged = Registry.merge([app, m.registry]);
    expect(await merged.metrics()).toMatch(/pilotfish_requests_total/);
  });

  it('explains a request without sending it', async () => {
    const u = await upstream();
    const m = await mesh(oneRoute(u, '  - { name: canary, match: { host: svc, headers: { x-canary: { exact: "1" } } }, to: [{ upstream: u }] }'));
    expect(m.explain('http://svc/x').winner).toBe('r');
    expect(m.explain('http://unknown/').fallback).toMatch(/NR/);
    expect(u.seen.length).toBe(0);
  });
});

describe('close', () => {
  it('lets calls in flight finish, refuses new ones, then closes every connection', async () => {
    const held: http.ServerResponse[] = [];
    const u = await upstream((req, res) => { req.resume(); held.push(res); });
    u.server.keepAliveTimeout = 60_000; // neither side would close an idle connection for a minute
    const m = await createMesh({ policy: oneRoute(u).replace('endpoints: [{ address: "' + u.address + '" }]', 'endpoints: [{ address: "' + u.address + '" }], connectionPool: { idleTimeout: 60s }'), engine: TEST_ENGINE });
    const inflight = m.fetch('http://svc/');
    await waitFor(() => held.length === 1, { what: 'the call upstream' });
    let closed = false;
    const closing = m.close().then(() => { closed = true; });
    await expect(m.fetch('http://svc/')).rejects.toThrow();
    expect(closed).toBe(false);
    held[0]!.end('finished');
    expect(await (await inflight).text()).toBe('finished');
    await closing;
    expect(closed).toBe(true);
    await waitFor(() => u.sockets.size === 0, { what: 'the upstream to see its connections closed' });
  });
});
