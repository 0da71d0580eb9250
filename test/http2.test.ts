/**
 * HTTP/2 through the real sidecar (SPEC §11), below gRPC: h2c and HTTP/1.1 on one listener port at
 * once, each client version to each upstream version (`protocol: http1 | http2 | downstream`), the
 * inbound listener, and an upstream session that goes away (GOAWAY) under load.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sidecar } from '../src/sidecar.js';
import { request } from './helpers/http.js';
import { startSidecar, testListeners } from './helpers/sidecar.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

interface H2Upstream { address: string; versions: string[]; sessions: number; server: http2.Http2Server; close(): Promise<void> }

/**
 * A cleartext HTTP/2 server answering JSON about what it saw; `goawayAfter` streams, it sends
 * GOAWAY; `maxStreams` is the SETTINGS_MAX_CONCURRENT_STREAMS it announces; it answers after `delayMs`.
 */
async function startH2Upstream(goawayAfter = Infinity, { maxStreams, delayMs = 0 }: { maxStreams?: number; delayMs?: number } = {}): Promise<H2Upstream> {
  const server = http2.createServer(maxStreams === undefined ? {} : { settings: { maxConcurrentStreams: maxStreams } });
  const state: H2Upstream = { address: '', versions: [], sessions: 0, server, close: () => new Promise((r) => server.close(() => r())) };
  let streams = 0;
  server.on('session', (s) => { state.sessions++; s.on('error', () => {}); });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    state.versions.push('2.0');
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => setTimeout(() => {
      if (stream.destroyed) return;
      const body = JSON.stringify({ version: '2.0', method: headers[':method'], path: headers[':path'], authority: headers[':authority'], body: Buffer.concat(chunks).toString(), te: headers.te ?? null });
      // `/trailers…`: the answer ends with a trailer section.
      const trailers = headers[':path']?.startsWith('/trailers') === true;
      if (headers[':path'] === '/fields') {
        // What arrived of repeated fields, and two of its own (set-cookie stays one field per cookie).
        stream.respond({ ':status': 200, 'set-cookie': ['a=1', 'b=2'], 'x-tags': ['one', 'two'] });
        stream.end(JSON.stringify({ cookie: headers.cookie, tags: headers['x-tags'] }));
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-upstream': 'h2' }, trailers ? { waitForTrailers: true } : {});
      if (trailers) stream.once('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'c0ffee', 'grpc-status': '0' }));
      stream.end(body);
      if (++streams >= goawayAfter) { streams = 0; stream.session?.goaway(); stream.session?.close(); }
    }, delayMs));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

/** One HTTP/2 request with prior knowledge over `session`; resolves with status, headers and body. */
function h2request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': body === undefined ? 'GET' : 'POST', ...headers }, { endStream: body === undefined });
    let resHeaders: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => { resHeaders = h; });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status: Number(resHeaders[':status']), headers: resHeaders, body: Buffer.concat(chunks).toString() }));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

let h2up: H2Upstream;
let goaway: H2Upstream;
let narrow: H2Upstream;
let h1up: Upstream;
/** The pod's app behind the inbound listener: an h2c server (a gRPC app is one). */
let app: H2Upstream;
let sidecar: Sidecar;
const sessions: http2.ClientHttp2Session[] = [];

function connect(port: number): http2.ClientHttp2Session {
  const s = http2.connect(`http://127.0.0.1:${port}`);
  s.on('error', () => {});
  sessions.push(s);
  return s;
}

beforeAll(async () => {
  h2up = await startH2Upstream();
  goaway = await startH2Upstream(5);
  narrow = await startH2Upstream(Infinity, { maxStreams: 2, delayMs: 100 });
  h1up = await startUpstream();
  app = await startH2Upstream();
  sidecar = await startSidecar(`version: 1
${testListeners(`http://${app.address}`)}
upstreams:
  h2: { protocol: http2, endpoints: [{ address: "${h2up.address}" }] }
  h1: { protocol: http1, endpoints: [{ address: "${h1up.address}" }] }
  follow: { endpoints: [{ address: "${h1up.address}" }] }
  goaway: { protocol: http2, endpoints: [{ address: "${goaway.address}" }] }
  narrow: { protocol: http2, endpoints: [{ address: "${narrow.address}" }] }
routes:
  - { name: h2, match: { host: h2.svc }, to: [{ upstream: h2 }] }
  - { name: h1, match: { host: h1.svc }, to: [{ upstream: h1 }] }
  - { name: follow, match: { host: follow.svc }, to: [{ upstream: follow }] }
  - { name: goaway, match: { host: goaway.svc }, to: [{ upstream: goaway }], retries: { attempts: 2 } }
  - { name: narrow, match: { host: narrow.svc }, to: [{ upstream: narrow }] }
`);
});

afterAll(async () => {
  for (const s of sessions) s.destroy();
  await sidecar?.close();
  await Promise.all([h2up, goaway, narrow, h1up, app].map((u) => u?.close()));
});

describe('one port, two HTTP versions', () => {
  it('h2c and HTTP/1.1 clients on the same outbound port at once', async () => {
    const session = connect(sidecar.ports.outbound);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const [h2s, h1s] = await Promise.all([
      Promise.all(Array.from({ length: 40 }, (_, i) => h2request(session, { ':path': `/two/${i}`, ':authority': 'h1.svc' }))),
      Promise.all(Array.from({ length: 40 }, (_, i) => request(sidecar.ports.outbound, { path: `/one/${i}`, headers: { host: 'h1.svc' }, agent }))),
    ]);
    agent.destroy();
    for (const [i, r] of h2s.entries()) { expect(r.status).toBe(200); expect(JSON.parse(r.body).url).toBe(`/two/${i}`); }
    for (const [i, r] of h1s.entries()) { expect(r.status).toBe(200); expect(r.json().url).toBe(`/one/${i}`); }
  });

  it('h2c on the inbound port reaches the app over HTTP/2 (the built-in app upstream follows the client)', async () => {
    const r = await h2request(connect(sidecar.ports.inbound), { ':path': '/in', ':authority': 'anything' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ version: '2.0', path: '/in' });
  });
});

describe('listeners.inbound.appProtocol', () => {
  it('http1: an h2c caller reaches an app that speaks only HTTP/1.1', async () => {
    const s = await startSidecar(`version: 1
${testListeners(`http://${h1up.address}`).replace('inbound: { port: 0, address: 127.0.0.1,', 'inbound: { port: 0, address: 127.0.0.1, appProtocol: http1,')}`);
    try {
      const session = http2.connect(`http://127.0.0.1:${s.ports.inbound}`);
      session.on('error', () => {});
      const r = await h2request(session, { ':path': '/to-h1-app', ':authority': 'anything' });
      session.close();
      expect(r.status).toBe(200);
      expect(h1up.seen.at(-1)!.url).toBe('/to-h1-app');
    } finally {
      await s.close();
    }
  });
});

describe('each client version to each upstream version', () => {
  it('an HTTP/1.1 client to a protocol: http2 upstream', async () => {
    const r = await request(sidecar.ports.outbound, { method: 'POST', path: '/up?x=1', headers: { host: 'h2.svc', 'content-type': 'text/plain' }, body: 'hello' });
    expect(r.status).toBe(200);
    expect(r.headers['x-upstream']).toBe('h2');
    expect(r.json()).toMatchObject({ version: '2.0', method: 'POST', path: '/up?x=1', authority: 'h2.svc', body: 'hello' });
  });

  it('an HTTP/2 client to a protocol: http1 upstream, with a body of unknown length', async () => {
    const r = await h2request(connect(sidecar.ports.outbound), { ':path': '/down', ':authority': 'h1.svc', 'content-type': 'text/plain' }, 'streamed body');
    expect(r.status).toBe(200);
    const seen = h1up.seen.at(-1)!;
    expect(seen.url).toBe('/down');
    expect(seen.headers.host).toBe('h1.svc');
    expect(JSON.parse(r.body).bodyBytes).toBe('streamed body'.length);
  });

  it('protocol: downstream follows the client: HTTP/1.1 stays HTTP/1.1', async () => {
    const r = await request(sidecar.ports.outbound, { path: '/f', headers: { host: 'follow.svc' } });
    expect(r.status).toBe(200);
  });

  it('repeated fields cross both ways: each cookie and set-cookie one field, lists whole', async () => {
    const r = await h2request(connect(sidecar.ports.outbound), { ':path': '/fields', ':authority': 'h2.svc', cookie: ['x=1', 'y=2'], 'x-tags': ['red', 'blue'] });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ cookie: 'x=1; y=2', tags: 'red, blue' });
    expect(r.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(r.headers['x-tags']).toBe('one, two');
  });

  it('an HTTP/2 client to an HTTP/2 upstream keeps te: trailers and the authority', async () => {
    const r = await h2request(connect(sidecar.ports.outbound), { ':path': '/t', ':authority': 'h2.svc', te: 'trailers' });
    expect(JSON.parse(r.body)).toMatchObject({ version: '2.0', authority: 'h2.svc', te: 'trailers' });
  });
});

/** A raw HTTP/1.1 request (the test helper does not keep trailers): status, body and the trailers received. */
function h1request(port: number, headers: http.OutgoingHttpHeaders): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; trailers: NodeJS.Dict<string> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/trailers', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), trailers: res.trailers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP/2 trailers to an HTTP/1.1 client', () => {
  it('with TE: trailers, the upstream\'s trailers come in the chunked trailer section', async () => {
    const r = await h1request(sidecar.ports.outbound, { host: 'h2.svc', te: 'trailers' });
    expect(r.status).toBe(200);
    expect(r.headers['transfer-encoding']).toBe('chunked');
    expect(JSON.parse(r.body)).toMatchObject({ version: '2.0', path: '/trailers' });
    expect(r.trailers).toEqual({ 'x-checksum': 'c0ffee', 'grpc-status': '0' });
  });

  it('without TE: trailers they are dropped, the answer intact', async () => {
    const r = await h1request(sidecar.ports.outbound, { host: 'h2.svc' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ version: '2.0', path: '/trailers' });
    expect(r.trailers).toEqual({});
  });
});

describe('upstream sessions', () => {
  it('multiplexes requests on few sessions per endpoint', async () => {
    const before = h2up.sessions;
    await Promise.all(Array.from({ length: 50 }, () => request(sidecar.ports.outbound, { path: '/m', headers: { host: 'h2.svc' } })));
    expect(h2up.sessions - before).toBeLessThanOrEqual(1);
  });

  it('opens another session when the peer\'s maxConcurrentStreams is reached, and no more than that needs', async () => {
    const get = (host: string): Promise<number> => request(sidecar.ports.outbound, { path: '/n', headers: { host } }).then((r) => r.status);
    expect(await get('narrow.svc')).toBe(200); // one session, its SETTINGS (2 streams) known
    expect(await Promise.all(Array.from({ length: 6 }, () => get('narrow.svc')))).toEqual(Array(6).fill(200));
    expect(narrow.sessions).toBe(3);
  });

  it('a session that goes away (GOAWAY) fails no request', async () => {
    const statuses: number[] = [];
    for (let batch = 0; batch < 6; batch++) {
      const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => request(sidecar.ports.outbound, { path: `/g/${batch}/${i}`, headers: { host: 'goaway.svc' } })));
      statuses.push(...rs.map((r) => r.status));
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(goaway.sessions, 'the upstream did send GOAWAY and the sidecar reconnected').toBeGreaterThan(1);
  });
});

describe('a refused stream (RST_STREAM REFUSED_STREAM)', () => {
  /**
   * An HTTP/2 upstream refusing each request's first stream once some of its body has arrived
   * (the body is then partly consumed from the client), and answering the next with how many body
   * bytes it got.
   */
  async function startRefusing(): Promise<{ address: string; received: number[]; close(): Promise<void> }> {
    const received: number[] = [];
    const seen = new Set<string>();
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      const key = String(headers[':path']);
      let bytes = 0;
      if (!seen.has(key)) {
        seen.add(key);
        stream.once('data', () => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM));
        return;
      }
      stream.on('data', (c: Buffer) => { bytes += c.length; });
      stream.on('end', () => { received.push(bytes); stream.respond({ ':status': 200 }); stream.end(String(bytes)); });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
      received,
      close: () => new Promise<void>((r) => server.close(() => r())),
    };
  }

  it('a streamed body is not sent again in part; a buffered one is sent again whole', async () => {
    const up = await startRefusing();
    const sc = await startSidecar(`version: 1
${testListeners()}
upstreams:
  refusing: { protocol: http2, endpoints: [{ address: "${up.address}" }] }
routes:
  - { name: streamed, match: { host: streamed.svc }, to: [{ upstream: refusing }] }
  - { name: buffered, match: { host: buffered.svc }, to: [{ upstream: refusing }], retries: { attempts: 2 } }
`);
    try {
      const size = 1024 * 1024;
      const body = Buffer.alloc(size, 0x61);
      // Streamed through (no layer buffers it): after the refusal the client's body is partly read.
      // Chunked, so no content-length tells the upstream that a second stream carries only the rest.
      const streamed = await request(sc.ports.outbound, { method: 'POST', path: '/s', headers: { host: 'streamed.svc', 'transfer-encoding': 'chunked' }, body });
      expect(streamed.status, streamed.text).toBeGreaterThanOrEqual(500);
      // Buffered (the retry layer holds it): the engine sends it again, whole, on a new stream.
      const buffered = await request(sc.ports.outbound, { method: 'POST', path: '/b', headers: { host: 'buffered.svc' }, body });
      expect(buffered.status).toBe(200);
      expect(buffered.text).toBe(String(size));
      // No stream ever delivered a truncated body to the upstream.
      expect(up.received).toEqual([size]);
    } finally {
      await sc.close();
      await up.close();
    }
  });
});
