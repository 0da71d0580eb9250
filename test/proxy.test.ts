/**
 * The data plane end to end: the real sidecar (in-process, real sockets) against real upstreams on
 * 127.0.0.1 port 0.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sidecar } from '../src/sidecar.js';
import { request, waitFor } from './helpers/http.js';
import { startSidecar, testListeners } from './helpers/sidecar.js';
import { deadAddress, startUpstream, type Upstream } from './helpers/upstream.js';

let a: Upstream;
let b: Upstream;
let app: Upstream;
let slow: Upstream;
let sidecar: Sidecar;
let out: number;

beforeAll(async () => {
  a = await startUpstream();
  b = await startUpstream();
  app = await startUpstream();
  slow = await startUpstream(() => { /* never answers */ });
  const dead = await deadAddress();
  sidecar = await startSidecar(`version: 1
${testListeners(`http://${app.address}`)}
upstreams:
  a: { endpoints: [{ address: "${a.address}" }] }
  b: { endpoints: [{ address: "${b.address}" }] }
  dead: { endpoints: [{ address: "${dead}" }], connectionPool: { connectTimeout: 1s } }
  slow: { endpoints: [{ address: "${slow.address}" }] }
routes:
  - { name: a, match: { host: a.svc }, to: [{ upstream: a }] }
  - { name: b, match: { host: b.svc }, to: [{ upstream: b }] }
  - { name: dead, match: { host: dead.svc }, to: [{ upstream: dead }] }
  - { name: slow, match: { host: slow.svc }, to: [{ upstream: slow }], timeout: 300ms }
`);
  out = sidecar.ports.outbound;
});

afterAll(async () => {
  await sidecar?.close();
  await Promise.all([a, b, app, slow].map((u) => u?.close()));
});

describe('routing by authority', () => {
  it('routes by Host, ignoring the port', async () => {
    const ra = await request(out, { path: '/x?q=1', headers: { host: 'a.svc' } });
    const rb = await request(out, { path: '/y', headers: { host: 'B.svc:8080' } });
    expect(ra.status).toBe(200);
    expect(ra.json().url).toBe('/x?q=1');
    expect(rb.json().url).toBe('/y');
    expect(a.seen.at(-1)!.url).toBe('/x?q=1');
    expect(b.seen.at(-1)!.url).toBe('/y');
  });

  it('sends upstream exactly the path it routed on (no normalisation after routing)', async () => {
    // A path re-parsed after routing (`/pub/../admin` → `/admin`) would reach what the route never matched.
    const path = '/pub/../admin/./x//y%2Fz?k=1&k=%20&';
    const r = await request(out, { path, headers: { host: 'a.svc' } });
    expect(r.status).toBe(200);
    expect(a.seen.at(-1)!.url).toBe(path);
  });

  it('takes the authority from an absolute-form request URI (HTTP proxy mode)', async () => {
    const r = await request(out, { rawPath: 'http://b.svc/abs/path?z=9', headers: { host: 'ignored.example' } });
    expect(r.status).toBe(200);
    expect(r.json().url).toBe('/abs/path?z=9');
    expect(r.json().headers.host).toBe('b.svc');
  });

  it('forwards inbound traffic to the app', async () => {
    const r = await request(sidecar.ports.inbound, { path: '/in', headers: { host: 'my-pod' } });
    expect(r.status).toBe(200);
    expect(app.seen.at(-1)!.url).toBe('/in');
  });

  it('answers 404 NR with a JSON body when no route matches', async () => {
    const r = await request(out, { headers: { host: 'unknown.svc' } });
    expect(r.status).toBe(404);
    expect(r.headers['x-pilotfish-flags']).toBe('NR');
    expect(r.json()).toEqual({ error: expect.stringContaining('no route'), flags: 'NR' });
  });

  it('answers 400 to a malformed request target', async () => {
    const r = await request(out, { rawPath: 'ftp://x/y', headers: { host: 'a.svc' } });
    expect(r.status).toBe(400);
  });

  it('answers 400 to garbage on the wire without disturbing other clients', async () => {
    const reply = await new Promise<string>((resolve) => {
      const s = net.connect(out, '127.0.0.1', () => s.write('NOT HTTP AT ALL\r\n\r\n'));
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('close', () => resolve(data));
      s.on('error', () => resolve(data));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect((await request(out, { headers: { host: 'a.svc' } })).status).toBe(200);
  });
});

describe("the sidecar's own error answers", () => {
  it('503 UF when the upstream refuses the connection', async () => {
    const r = await request(out, { headers: { host: 'dead.svc' } });
    expect(r.status).toBe(503);
    expect(r.headers['x-pilotfish-flags']).toBe('UF');
    expect(r.json().flags).toBe('UF');
  });

  it('504 UT when the upstream does not answer within the route timeout', async () => {
    const t0 = Date.now();
    const r = await request(out, { headers: { host: 'slow.svc' } });
    const took = Date.now() - t0;
    expect(r.status).toBe(504);
    expect(r.headers['x-pilotfish-flags']).toBe('UT');
    expect(took).toBeGreaterThanOrEqual(280);
    expect(took).toBeLessThan(3000);
  });
});

describe('header hygiene', () => {
  it('strips hop-by-hop headers on the way up and sets forwarding headers', async () => {
    const r = await request(out, {
      headers: {
        host: 'a.svc', connection: 'keep-alive, x-secret-hop', 'x-secret-hop': '1', 'keep-alive': 'timeout=5',
        te: 'trailers', 'proxy-authorization': 'Basic Zm9v', 'proxy-connection': 'keep-alive', upgrade: 'h2c',
        'x-forwarded-for': '203.0.113.7', 'x-request-id': 'req-123', 'x-kept': 'yes',
      },
    });
    const seen = r.json().headers as Record<string, string>;
    for (const h of ['x-secret-hop', 'keep-alive', 'te', 'proxy-authorization', 'proxy-connection', 'upgrade']) expect(seen[h]).toBeUndefined();
    expect(seen['x-kept']).toBe('yes');
    expect(seen['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe('a.svc');
    expect(seen['x-request-id']).toBe('req-123');
  });

  it('generates x-request-id when missing or malformed', async () => {
    const r1 = await request(out, { headers: { host: 'a.svc' } });
    const r2 = await request(out, { headers: { host: 'a.svc', 'x-request-id': 'bad id with spaces' } });
    expect(r1.json().headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(r2.json().headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('strips hop-by-hop headers on the way down', async () => {
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { connection: 'x-down-hop', 'x-down-hop': '1', 'keep-alive': 'timeout=1', 'proxy-authenticate': 'Basic', trailer: 'x-t', 'x-end': 'ok' });
      res.end('fine');
    });
    const sc = await startSidecar(`version: 1\n${testListeners()}\nupstreams: { u: { endpoints: [{ address: "${up.address}" }] } }\nroutes: [{ name: u, match: { host: u }, to: [{ upstream: u }] }]\n`);
    try {
      const r = await request(sc.ports.outbound, { headers: { host: 'u' } });
      expect(r.text).toBe('fine');
      expect(r.headers['x-end']).toBe('ok');
      for (const h of ['x-down-hop', 'proxy-authenticate', 'trailer']) expect(r.headers[h]).toBeUndefined();
      expect(r.headers['keep-alive']).not.toBe('timeout=1');
    } finally {
      await sc.close();
      await up.close();
    }
  });
});

describe('bodies', () => {
  it('streams a 3 MiB request body and a 3 MiB response body intact', async () => {
    const up = await startUpstream((req, res) => {
      const hash = createHashStream();
      req.on('data', (c: Buffer) => hash.update(c));
      req.on('end', () => {
        res.writeHead(200, { 'x-request-digest': hash.digest() });
        res.end(bigBody(3 * 1024 * 1024, 7));
      });
    });
    const sc = await startSidecar(`version: 1\n${testListeners()}\nupstreams: { u: { endpoints: [{ address: "${up.address}" }] } }\nroutes: [{ name: u, match: { host: u }, to: [{ upstream: u }] }]\n`);
    try {
      const sent = bigBody(3 * 1024 * 1024, 3);
      const r = await request(sc.ports.outbound, { method: 'POST', headers: { host: 'u', 'content-type': 'application/octet-stream' }, body: sent });
      expect(r.status).toBe(200);
      expect(r.headers['x-request-digest']).toBe(digest(sent));
      expect(r.body.length).toBe(3 * 1024 * 1024);
      expect(digest(r.body)).toBe(digest(bigBody(3 * 1024 * 1024, 7)));
    } finally {
      await sc.close();
      await up.close();
    }
  });

  it('a client that leaves cancels the upstream request', async () => {
    let upstreamClosed = false;
    const up = await startUpstream((req, res) => {
      res.on('close', () => { upstreamClosed = !res.writableFinished; });
      req.resume();
    });
    const sc = await startSidecar(`version: 1\n${testListeners()}\nupstreams: { u: { endpoints: [{ address: "${up.address}" }] } }\nroutes: [{ name: u, match: { host: u }, to: [{ upstream: u }] }]\n`);
    try {
      const req = http.request({ host: '127.0.0.1', port: sc.ports.outbound, headers: { host: 'u' }, agent: false });
      req.on('error', () => {});
      req.end();
      await waitFor(() => up.seen.length === 1, { what: 'the upstream to see the request' });
      req.destroy();
      await waitFor(() => upstreamClosed, { what: 'the upstream request to be cancelled' });
      await waitFor(() => sc.inflightRequests === 0, { what: 'the sidecar to forget the request' });
    } finally {
      await sc.close();
      await up.close();
    }
  });

  it('an upstream that dies mid-body aborts the client response (never presented as complete)', async () => {
    for (const framing of ['chunked', 'content-length'] as const) {
      const up = await startUpstream((_req, res) => {
        res.writeHead(200, framing === 'content-length' ? { 'content-length': '100000' } : {});
        res.write(Buffer.alloc(5000, 1));
        setTimeout(() => res.socket?.destroy(), 50);
      });
      const sc = await startSidecar(`version: 1\n${testListeners()}\nupstreams: { u: { endpoints: [{ address: "${up.address}" }] } }\nroutes: [{ name: u, match: { host: u }, to: [{ upstream: u }] }]\n`);
      try {
        const err = await request(sc.ports.outbound, { headers: { host: 'u' } }).then(() => undefined, (e: Error) => e);
        expect(err, framing).toBeInstanceOf(Error);
      } finally {
        await sc.close();
        await up.close();
      }
    }
  });
});

function bigBody(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

import { createHash } from 'node:crypto';
function digest(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
function createHashStream(): { update(c: Buffer): void; digest(): string } {
  const h = createHash('sha256');
  return { update: (c) => h.update(c), digest: () => h.digest('hex') };
}
