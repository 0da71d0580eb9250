/**
 * A replica that dies under load (issue 13.3), each way it can die, on every engine: which requests
 * the sidecar saves onto a healthy replica, and the two it cannot — a request that may already have
 * reached the dead replica and is not idempotent, and an answer the client had already begun to
 * receive. The data-plane suites run this file on every forwarding engine.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sidecar } from '../src/sidecar.js';
import { request, waitFor, type Reply } from './helpers/http.js';
import { metricSum, startObserved, testListeners } from './helpers/sidecar.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const fn of cleanup.splice(0).reverse()) await fn(); });

type Mode = 'answer' | 'hang' | 'half-answer';

/** A replica that can be killed as a crashed process is: its port closed, its connections cut. */
class Replica {
  readonly seen: string[] = [];
  mode: Mode = 'answer';
  private readonly sockets = new Set<Socket>();
  private constructor(readonly name: string, private readonly server: http.Server) {}

  static async start(name: string): Promise<Replica> {
    const server = http.createServer();
    const r = new Replica(name, server);
    server.on('request', (req, res) => r.handle(req, res));
    server.on('connection', (s: Socket) => { r.sockets.add(s); s.on('close', () => r.sockets.delete(s)); });
    server.on('clientError', (_e, s) => s.destroy());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanup.push(() => r.kill('fin'));
    return r;
  }

  get address(): string { return `127.0.0.1:${(this.server.address() as AddressInfo | null)?.port ?? 0}`; }
  get connections(): number { return this.sockets.size; }

  /** `fin`: sockets closed (a process exiting); `rst`: reset (a crash with unread data, a dead host's RST). */
  kill(how: 'fin' | 'rst'): void {
    this.server.close();
    for (const s of this.sockets) { if (how === 'rst') s.resetAndDestroy(); else s.destroy(); }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.on('error', () => {});
    res.on('error', () => {});
    req.resume();
    req.on('end', () => {
      this.seen.push(`${req.method} ${req.url}`);
      if (this.mode === 'answer') res.end(`${this.name}:${req.url}`);
      if (this.mode === 'half-answer') { res.writeHead(200, { 'content-length': '1000' }); res.write('x'.repeat(400)); }
    });
  }
}

async function setup(retryOn = '[connect-failure, reset, 5xx]'): Promise<{ s: Sidecar; a: Replica; b: Replica; metrics: () => Promise<string> }> {
  const a = await Replica.start('a');
  const b = await Replica.start('b');
  const { sidecar, metrics } = await startObserved(`version: 1\n${testListeners()}
upstreams:
  u: { endpoints: [{ address: "${a.address}" }, { address: "${b.address}" }], loadBalancer: round-robin }
routes:
  - name: r
    match: { host: svc }
    to: [{ upstream: u }]
    timeout: 5s
    retries: { attempts: 2, retryOn: ${retryOn}, backoff: { base: 1ms, max: 2ms } }
`);
  cleanup.push(() => sidecar.close());
  return { s: sidecar, a, b, metrics };
}

const agent = (): http.Agent => {
  const ag = new http.Agent({ keepAlive: true, maxSockets: 8 });
  cleanup.push(() => ag.destroy());
  return ag;
};

/** Requests until both replicas have answered one (pooled keep-alive sockets to each). */
async function warm(s: Sidecar, a: Replica, b: Replica, client: http.Agent): Promise<void> {
  for (let i = 0; i < 4; i++) await request(s.ports.outbound, { path: `/warm${i}`, headers: { host: 'svc' }, agent: client });
  expect(a.connections).toBeGreaterThan(0);
  expect(b.connections).toBeGreaterThan(0);
}

/** Sends requests until one is in flight at `a` (round-robin alternates); resolves with its pending reply. */
async function inFlightAt(s: Sidecar, a: Replica, b: Replica, method: string, client: http.Agent): Promise<{ reply: Promise<Reply> }> {
  a.mode = 'hang';
  for (let i = 0; i < 4; i++) {
    const before = a.seen.length;
    const pending = request(s.ports.outbound, { method, path: `/req${i}`, headers: { host: 'svc' }, ...(method === 'POST' ? { body: 'order=1' } : {}), agent: client });
    await waitFor(() => a.seen.length > before || b.seen.some((x) => x.endsWith(`/req${i}`)), { what: 'the request to reach a replica' });
    if (a.seen.length > before) return { reply: pending }; // wrapped: an async function would await a bare promise
    await pending;
  }
  throw new Error('round-robin never sent a request to a');
}

describe('a replica killed under load', () => {
  for (const how of ['fin', 'rst'] as const) {
    it(`idle pooled sockets to it (${how}): every request is answered by the other replica`, async () => {
      const { s, a, b } = await setup();
      const client = agent();
      await warm(s, a, b, client);
      a.kill(how);
      // At once, before the sidecar may have noticed: some tries meet a pooled socket the replica
      // has just closed, the others a refused connect. Both are retried onto b.
      const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => request(s.ports.outbound, { path: `/after${i}`, headers: { host: 'svc' }, agent: client })));
      expect(replies.map((r) => `${r.status} ${r.text.split(':')[0]}`)).toEqual(Array(20).fill('200 b'));
    });

    it(`a GET in flight at it (${how}): retried on the other replica, once`, async () => {
      const { s, a, b, metrics } = await setup();
      const client = agent();
      await warm(s, a, b, client);
      const { reply: pending } = await inFlightAt(s, a, b, 'GET', client);
      const path = a.seen.at(-1)!.split(' ')[1]!;
      a.kill(how);
      const r = await pending;
      expect([r.status, r.text]).toEqual([200, `b:${path}`]);
      expect(b.seen.filter((x) => x.endsWith(path))).toHaveLength(1);
      expect(metricSum(await metrics(), 'pilotfish_retries_total', { route: 'r' })).toBe(1);
    });

    it(`a POST in flight at it (${how}) cannot be saved: it may have been processed; 503 UC, never sent twice`, async () => {
      const { s, a, b, metrics } = await setup();
      const client = agent();
      await warm(s, a, b, client);
      const { reply: pending } = await inFlightAt(s, a, b, 'POST', client);
      const path = a.seen.at(-1)!.split(' ')[1]!;
      a.kill(how);
      const r = await pending;
      expect([r.status, r.headers['x-pilotfish-flags']]).toEqual([503, 'UC']);
      expect(b.seen.filter((x) => x.endsWith(path))).toHaveLength(0);
      const text = await metrics();
      expect(metricSum(text, 'pilotfish_retries_skipped_total', { route: 'r', reason: 'non-idempotent' })).toBe(1);
      expect(metricSum(text, 'pilotfish_retries_total', { route: 'r' })).toBe(0);
    });
  }

  it('an answer already streaming when it dies cannot be saved: the client sees it cut short, never a whole wrong answer', async () => {
    const { s, a, b } = await setup();
    const client = agent();
    await warm(s, a, b, client);
    a.mode = 'half-answer';
    b.mode = 'half-answer';
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: s.ports.outbound, path: '/stream', headers: { host: 'svc' }, agent: client }, resolve);
      req.on('error', reject);
      req.end();
    });
    expect(res.statusCode).toBe(200);
    const cut = new Promise<{ bytes: number; aborted: boolean }>((resolve) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => { bytes += c.length; });
      res.on('error', () => resolve({ bytes, aborted: true }));
      res.on('end', () => resolve({ bytes, aborted: false }));
    });
    await waitFor(() => a.seen.includes('GET /stream') || b.seen.includes('GET /stream'), { what: 'the request to reach a replica' });
    (a.seen.includes('GET /stream') ? a : b).kill('rst');
    const got = await cut;
    expect(got.aborted).toBe(true); // fewer than the 1000 bytes promised, and the connection reset
    expect(got.bytes).toBeLessThan(1000);
  });

  it('no try goes back to the dead replica while another is left: under load, all 200', async () => {
    const { s, a, b } = await setup();
    const client = agent();
    await warm(s, a, b, client);
    const load = Array.from({ length: 60 }, (_, i) => request(s.ports.outbound, { path: `/load${i}`, headers: { host: 'svc' }, agent: client }));
    await waitFor(() => a.seen.length + b.seen.length >= 20, { what: 'load under way' });
    a.kill('rst');
    const replies = await Promise.all(load);
    expect(replies.filter((r) => r.status !== 200).map((r) => `${r.status} ${String(r.headers['x-pilotfish-flags'])}`)).toEqual([]);
  });
});
