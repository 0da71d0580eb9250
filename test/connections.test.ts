/**
 * Connection behaviour through the real sidecar: keep-alive reuse to upstreams, a stale pooled socket
 * reset before any response byte, upstream resets (UC), and WebSocket upgrades.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { Sidecar } from '../src/sidecar.js';
import { request } from './helpers/http.js';
import { startSidecar, testListeners } from './helpers/sidecar.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function sidecarFor(up: Upstream, extra = ''): Promise<Sidecar> {
  const sc = await startSidecar(`version: 1\n${testListeners()}\nupstreams: { u: { endpoints: [{ address: "${up.address}" }]${extra} } }\nroutes: [{ name: u, match: { host: u }, to: [{ upstream: u }] }]\n`);
  cleanup.push(() => sc.close());
  return sc;
}

describe('upstream connections', () => {
  it('reuses keep-alive connections to the upstream', async () => {
    const up = await startUpstream();
    cleanup.push(() => up.close());
    const sc = await sidecarFor(up);
    for (let i = 0; i < 50; i++) expect((await request(sc.ports.outbound, { headers: { host: 'u' } })).status).toBe(200);
    const sockets = new Set(up.seen.map((s) => s.socket));
    expect(up.seen.length).toBe(50);
    expect(sockets.size).toBe(1);
  });

  it('resends an idempotent request whose reused socket was reset before any response byte', async () => {
    // The upstream answers the first request on each connection and kills the connection when a
    // second one arrives on it: exactly the race of a pooled socket closed by the upstream.
    const perSocket = new Map<unknown, number>();
    const up = await startUpstream((req, res) => {
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      if (n > 1) { req.socket.destroy(); return; }
      res.end('ok');
    });
    cleanup.push(() => up.close());
    const sc = await sidecarFor(up);
    const first = await request(sc.ports.outbound, { headers: { host: 'u' } });
    const second = await request(sc.ports.outbound, { headers: { host: 'u' } });
    expect([first.status, second.text]).toEqual([200, 'ok']);
    expect(second.status).toBe(200);
    expect(up.seen.length).toBe(3); // the reset try, then the replay on a new connection
  });

  it('never resends a POST: an upstream reset answers 503 UC', async () => {
    const perSocket = new Map<unknown, number>();
    const up = await startUpstream((req, res) => {
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      if (n > 1) { req.socket.destroy(); return; }
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    cleanup.push(() => up.close());
    const sc = await sidecarFor(up);
    await request(sc.ports.outbound, { headers: { host: 'u' } });
    const post = await request(sc.ports.outbound, { method: 'POST', headers: { host: 'u' }, body: 'order=1' });
    expect(post.status).toBe(503);
    expect(post.headers['x-pilotfish-flags']).toBe('UC');
    expect(up.seen.filter((s) => s.method === 'POST').length).toBe(1);
  });

  it('answers 503 UC when the upstream resets a fresh connection', async () => {
    const up = await startUpstream((req) => req.socket.destroy());
    cleanup.push(() => up.close());
    const sc = await sidecarFor(up);
    const r = await request(sc.ports.outbound, { headers: { host: 'u' } });
    expect(r.status).toBe(503);
    expect(r.headers['x-pilotfish-flags']).toBe('UC');
    expect(r.json().error).toMatch(/reset/);
  });

  it('closes idle upstream sockets after the pool idle timeout', async () => {
    const up = await startUpstream();
    cleanup.push(() => up.close());
    const sc = await sidecarFor(up, ', connectionPool: { idleTimeout: 150ms }');
    await request(sc.ports.outbound, { headers: { host: 'u' } });
    expect(up.sockets.size).toBe(1);
    const { waitFor } = await import('./helpers/http.js');
    await waitFor(() => up.sockets.size === 0, { timeoutMs: 3000, what: 'the idle socket to close' });
  });
});

describe('WebSocket', () => {
  it('passes an upgrade through and carries messages both ways', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws, req) => {
      ws.on('message', (m) => ws.send(`echo:${m.toString()}:${req.url}`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => { wss.close(); server.closeAllConnections(); server.close(() => r()); }));
    const port = (server.address() as { port: number }).port;
    const fake = { address: `127.0.0.1:${port}` } as Upstream;
    const sc = await sidecarFor(fake);
    const ws = new WebSocket(`ws://127.0.0.1:${sc.ports.outbound}/chat`, { headers: { host: 'u' } });
    cleanup.push(() => ws.terminate());
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    const replies: string[] = [];
    const got = new Promise<void>((resolve) => ws.on('message', (m) => { replies.push(m.toString()); if (replies.length === 2) resolve(); }));
    ws.send('one');
    ws.send('two');
    await got;
    expect(replies).toEqual(['echo:one:/chat', 'echo:two:/chat']);
  });

  it('refuses an upgrade with no route', async () => {
    const up = await startUpstream();
    cleanup.push(() => up.close());
    const sc = await sidecarFor(up);
    const ws = new WebSocket(`ws://127.0.0.1:${sc.ports.outbound}/`, { headers: { host: 'nowhere' } });
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
    });
    expect(status).toBe(404);
  });
});
