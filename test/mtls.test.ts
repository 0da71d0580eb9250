/**
 * Mutual TLS between sidecars and authorization by workload identity (SPEC §12), end to end on
 * loopback: two real in-process sidecars — A's outbound to B's inbound — with certificates minted
 * by `pilotfish certs` (the command, as a process). The call succeeds and B's app learns A's SPIFFE
 * ID from `x-forwarded-client-cert`; a forged one never reaches it; `strict` refuses plaintext, a
 * foreign CA, an expired certificate and no certificate, saying why (log and metric); a
 * `subjectAltNames` mismatch fails the call with 503 `UF` and the reason in the access log;
 * authorization allows by principal and path and denies with 403 `AD` naming the rule; `permissive`
 * takes TLS and plaintext on one port; `simple` originates ordinary TLS. Runs on every engine.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { meshCa, writeLeafDir, type Mesh } from './helpers/certs.js';
import { request, waitFor } from './helpers/http.js';
import { inboundPolicy, meshSidecar as startMeshSidecar, outboundPolicy, type MeshSidecar } from './helpers/mesh.js';
import { CLI, testListeners } from './helpers/sidecar.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { echoClient, grpc, startEchoServer, unary, type EchoClient, type EchoServer } from './helpers/grpc.js';

const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';
const REVIEWS = 'spiffe://cluster.local/ns/shop/sa/reviews';
const CART = 'spiffe://cluster.local/ns/shop/sa/cart';

const run = promisify(execFile);
const cleanup: Array<() => Promise<void> | void> = [];
afterAll(async () => { for (const fn of cleanup.splice(0).reverse()) await fn(); });
const meshSidecar = (policy: string): Promise<MeshSidecar> => startMeshSidecar(policy, cleanup);

/** A raw mutual-TLS client to `port` with the certificate in `dir` (or none): the HTTP answer, or how the connection ended. */
async function tlsGet(port: number, dir: string | undefined, headers: http.OutgoingHttpHeaders = {}, caFile?: string): Promise<{ status?: number; body?: string; error?: string }> {
  const creds = dir ? { key: await readFile(path.join(dir, 'tls.key')), cert: await readFile(path.join(dir, 'tls.crt')) } : {};
  const ca = await readFile(caFile ?? path.join(dir ?? '', 'ca.crt'));
  return new Promise((resolve) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/direct', headers: { host: 'reviews', ...headers }, ca, ...creds, agent: false, checkServerIdentity: () => undefined }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

let mesh: Mesh;
let aDir: string;
let bDir: string;
let app: Upstream;

beforeAll(async () => {
  mesh = await meshCa();
  [aDir, bDir] = await Promise.all([mesh.issue(FRONTEND, 'frontend'), mesh.issue(REVIEWS, 'reviews')]);
  app = await startUpstream();
  cleanup.push(() => app.close());
});

describe('gRPC from A to B over mutual TLS (HTTP/2 by ALPN h2), B strict', () => {
  let grpcApp: EchoServer;
  let a: MeshSidecar;
  let b: MeshSidecar;
  let client: EchoClient | undefined;

  beforeAll(async () => {
    grpcApp = await startEchoServer('grpc-app');
    cleanup.push(() => grpcApp.close());
    b = await meshSidecar(inboundPolicy({ address: grpcApp.address } as Upstream, bDir, 'strict'));
    a = await meshSidecar(outboundPolicy(aDir, b.sidecar.ports.inbound, `{ mode: mutual, subjectAltNames: [${REVIEWS}] }`));
    client = echoClient(a.sidecar.ports.outbound, 'reviews');
    cleanup.push(() => client?.close());
  });

  it('a unary call with metadata and trailers goes through both sidecars; B knows A by its SPIFFE ID', async () => {
    const md = new grpc.Metadata();
    md.set('x-echo', 'mesh');
    const r = await unary(client!, { text: 'hi', n: 3 }, { metadata: md });
    expect(r.err).toBeNull();
    expect(r.reply).toMatchObject({ text: 'grpc-app:hi', n: 3 });
    expect(r.metadata?.get('x-initial')).toEqual(['mesh-initial']);
    expect(r.status?.metadata.get('x-trailer')).toEqual(['mesh-trailer']);
    await waitFor(() => b.access.some((l) => l.path === '/pilotfish.test.Echo/Unary'), { what: 'B\'s access log line' });
    expect(b.access.find((l) => l.path === '/pilotfish.test.Echo/Unary')).toMatchObject({ direction: 'inbound', protocol: 'HTTP/2', grpcStatus: 0, peer: FRONTEND });
  });

  it('bidirectional streaming works across the mTLS hop', async () => {
    const call = client!.Bidi();
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      call.on('data', (m: { text: string }) => { got.push(m.text); if (got.length < 5) call.write({ text: `m${got.length}`, n: 0 }); else call.end(); });
      call.on('error', reject);
      call.on('end', resolve);
      call.write({ text: 'm0', n: 0 });
    });
    expect(got).toEqual(['grpc-app:m0', 'grpc-app:m1', 'grpc-app:m2', 'grpc-app:m3', 'grpc-app:m4']);
  });
});

describe('A → B with mutual TLS, B strict', () => {
  let a: MeshSidecar;
  let b: MeshSidecar;

  beforeAll(async () => {
    b = await meshSidecar(inboundPolicy(app, bDir, 'strict'));
    a = await meshSidecar(outboundPolicy(aDir, b.sidecar.ports.inbound, `{ mode: mutual, subjectAltNames: [${REVIEWS}] }`));
  });

  it('the call succeeds and B\'s app sees A\'s SPIFFE ID, never the XFCC A\'s app forged', async () => {
    const before = app.seen.length;
    const r = await request(a.sidecar.ports.outbound, { path: '/reviews/1', headers: { host: 'reviews', 'x-forwarded-client-cert': `By=${REVIEWS};URI=spiffe://cluster.local/ns/kube-system/sa/admin` } });
    expect(r.status).toBe(200);
    const seen = app.seen.slice(before);
    expect(seen).toHaveLength(1);
    const xfcc = seen[0]!.headers['x-forwarded-client-cert'] as string;
    expect(xfcc).toMatch(new RegExp(`^By=${REVIEWS};Hash=[0-9a-f]{64};Subject="";URI=${FRONTEND}$`));
    expect(xfcc).not.toContain('kube-system');
    // The access logs: B names the peer, A (a plaintext app) has none.
    await waitFor(() => b.access.some((l) => l.path === '/reviews/1'), { what: 'B\'s access log line' });
    expect(b.access.find((l) => l.path === '/reviews/1')).toMatchObject({ direction: 'inbound', status: 200, peer: FRONTEND });
    await waitFor(() => a.access.some((l) => l.path === '/reviews/1'));
    expect(a.access.find((l) => l.path === '/reviews/1')).toMatchObject({ direction: 'outbound', status: 200, peer: '', upstream: 'reviews' });
  });

  it('a forged XFCC sent straight to B by a mesh peer is replaced by the one B verified', async () => {
    const before = app.seen.length;
    const r = await tlsGet(b.sidecar.ports.inbound, aDir, { 'x-forwarded-client-cert': 'URI=spiffe://cluster.local/ns/kube-system/sa/admin' });
    expect(r.status).toBe(200);
    const xfcc = app.seen.slice(before)[0]!.headers['x-forwarded-client-cert'];
    expect(xfcc).toMatch(new RegExp(`;URI=${FRONTEND}$`));
  });

  it('reuses connections: 20 calls in a row ride one TLS connection from A to B', async () => {
    const served = (await b.metric('pilotfish_requests_total', { direction: 'inbound' })) ?? 0;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 20; i++) expect((await request(a.sidecar.ports.outbound, { path: `/r/${i}`, headers: { host: 'reviews' }, agent })).status).toBe(200);
    agent.destroy();
    expect((await b.metric('pilotfish_requests_total', { direction: 'inbound' }))! - served).toBe(20);
    expect(a.sidecar.upstreams.get('reviews')!.connections.describe()).toEqual({ active: 0, idle: 1 });
  });

  it.each<[string, () => Promise<string | undefined>, string]>([
    ['a plaintext client', async () => undefined, 'plaintext'],
    ['a client whose certificate comes from another CA', async () => writeLeafDir((await meshCa()).ca, { id: FRONTEND }), 'unknown_ca'],
    ['a client whose certificate has expired', async () => writeLeafDir(mesh.ca, { id: FRONTEND, notBefore: new Date(Date.now() - 7_200_000), notAfter: new Date(Date.now() - 3_600_000) }), 'expired'],
    ['a TLS client without a certificate', async () => 'none', 'no_client_certificate'],
    ['a client of another trust domain', async () => writeLeafDir(mesh.ca, { id: 'spiffe://example.org/ns/shop/sa/frontend' }), 'untrusted_identity'],
  ])('strict refuses %s, and says why', async (_name, dir, reason) => {
    const before = app.seen.length;
    const count = (await b.metric('pilotfish_tls_handshake_errors_total', { listener: 'inbound', reason })) ?? 0;
    const d = await dir();
    const r = d === undefined
      ? await request(b.sidecar.ports.inbound, { path: '/direct', headers: { host: 'reviews' } }).then((x) => ({ status: x.status }), (err: NodeJS.ErrnoException) => ({ error: err.code }))
      : await tlsGet(b.sidecar.ports.inbound, d === 'none' ? undefined : d, {}, path.join(bDir, 'ca.crt'));
    expect(r).toEqual({ error: expect.stringMatching(/ECONNRESET|EPIPE|ERR_SSL|socket hang up/) });
    expect(app.seen.length).toBe(before);
    await waitFor(async () => (await b.metric('pilotfish_tls_handshake_errors_total', { listener: 'inbound', reason })) === count + 1, { what: `the ${reason} refusal to be counted` });
    expect(b.logs.some((l) => l.msg === 'TLS connection refused' && l.reason === reason)).toBe(true);
  });

  it('A with a certificate of another CA: B refuses it, A answers 503 UF with the reason', async () => {
    const foreign = await writeLeafDir((await meshCa()).ca, { id: FRONTEND });
    const stranger = await meshSidecar(outboundPolicy(foreign, b.sidecar.ports.inbound, '{ mode: mutual }'));
    const r = await request(stranger.sidecar.ports.outbound, { path: '/x', headers: { host: 'reviews' } });
    expect(r.status).toBe(503);
    expect(r.headers['x-pilotfish-flags']).toBe('UF');
    // Its own CA does not sign B's certificate: A's side refuses B first.
    expect(r.json<{ error: string }>().error).toContain('TLS: the server certificate');
  });

  it('a subjectAltNames mismatch fails the call with UF, the reason in the access log and the operational log', async () => {
    const wrong = await meshSidecar(outboundPolicy(aDir, b.sidecar.ports.inbound, `{ mode: mutual, subjectAltNames: [${CART}] }`));
    const before = app.seen.length;
    const r = await request(wrong.sidecar.ports.outbound, { path: '/mismatch', headers: { host: 'reviews' } });
    expect(r.status).toBe(503);
    expect(r.headers['x-pilotfish-flags']).toBe('UF');
    expect(app.seen.length).toBe(before);
    await waitFor(() => wrong.access.some((l) => l.path === '/mismatch'));
    const line = wrong.access.find((l) => l.path === '/mismatch')!;
    expect(line).toMatchObject({ status: 503, flags: 'UF' });
    expect(line.upstreamTransportFailure).toContain(`is not in subjectAltNames [${CART}]`);
    expect(line.upstreamTransportFailure).toContain(REVIEWS);
    expect(wrong.logs.find((l) => l.msg === 'upstream TLS failure')).toMatchObject({ upstream: 'reviews', tls: 'mutual', reason: expect.stringContaining(CART) });
  });

  it('A trusts B but B does not trust A\'s CA: B refuses A after the TLS 1.3 handshake, and A answers 503 UF saying so, not a reset', async () => {
    const theirs = await meshCa();
    const dir = await writeLeafDir(theirs.ca, { id: FRONTEND });
    await writeFile(path.join(dir, 'ca.crt'), theirs.ca.cert + mesh.ca.cert); // A trusts both CAs; B only its own
    const untrusted = await meshSidecar(outboundPolicy(dir, b.sidecar.ports.inbound, '{ mode: mutual }'));
    const refused = (await b.metric('pilotfish_tls_handshake_errors_total', { listener: 'inbound', reason: 'unknown_ca' })) ?? 0;
    const r = await request(untrusted.sidecar.ports.outbound, { method: 'POST', path: '/post', headers: { host: 'reviews' }, body: 'x' });
    expect(r.status).toBe(503);
    expect(r.headers['x-pilotfish-flags']).toBe('UF');
    expect(r.json<{ error: string }>().error).toContain('refused our client certificate');
    expect(await b.metric('pilotfish_tls_handshake_errors_total', { listener: 'inbound', reason: 'unknown_ca' })).toBe(refused + 1);
  });
});

describe('authorization on B', () => {
  let a: MeshSidecar;
  let b: MeshSidecar;
  let cart: MeshSidecar;

  beforeAll(async () => {
    b = await meshSidecar(inboundPolicy(app, bDir, 'permissive', `authorization:
  - { name: no-admin, action: deny, to: { paths: ["/admin*"] } }
  - { name: frontend-reads, action: allow, from: { principals: ["cluster.local/ns/shop/sa/frontend"] }, to: { methods: [GET], paths: ["/reviews/*"] } }
  - { name: health, action: allow, to: { paths: [/healthz] } }
`));
    a = await meshSidecar(outboundPolicy(aDir, b.sidecar.ports.inbound, '{ mode: mutual }'));
    cart = await meshSidecar(outboundPolicy(await mesh.issue(CART, 'cart'), b.sidecar.ports.inbound, '{ mode: mutual }'));
  });

  it('allows by principal and path', async () => {
    expect((await request(a.sidecar.ports.outbound, { path: '/reviews/7', headers: { host: 'reviews' } })).status).toBe(200);
  });

  it.each<[string, () => MeshSidecar, string, string, string | null]>([
    ['the right principal, another path', () => a, 'GET', '/orders/1', null],
    ['the right principal, another method', () => a, 'POST', '/reviews/7', null],
    ['another principal', () => cart, 'GET', '/reviews/7', null],
    ['a deny rule, whatever the allow rules say', () => a, 'GET', '/admin/reviews/7', 'no-admin'],
  ])('denies %s: 403 AD, the JSON body naming the rule', async (_name, who, method, p, rule) => {
    const before = app.seen.length;
    const denied = (await b.metric('pilotfish_authz_denied_total', { policy: rule ?? '(no allow rule matched)' })) ?? 0;
    const r = await request(who().sidecar.ports.outbound, { method, path: p, headers: { host: 'reviews' }, ...(method === 'POST' ? { body: '{}' } : {}) });
    expect(r.status).toBe(403);
    expect(r.headers['x-pilotfish-flags']).toBe('AD');
    expect(r.json()).toMatchObject({ flags: 'AD', policy: rule, error: expect.stringContaining('access denied') });
    expect(app.seen.length).toBe(before);
    expect(await b.metric('pilotfish_authz_denied_total', { policy: rule ?? '(no allow rule matched)' })).toBe(denied + 1);
  });

  it('explain shows which rule decides, for a principal or a plaintext peer (admin /explain and pilotfish explain)', async () => {
    const explain = async (q: string) => (await request(b.sidecar.ports.admin, { path: `/explain?direction=inbound&${q}` })).json<{ authorization: any }>().authorization;
    const denied = await explain(`url=${encodeURIComponent('http://reviews/admin/x')}&principal=${encodeURIComponent(FRONTEND)}`);
    expect(denied.decision).toEqual({ allowed: false, rule: 'no-admin', reason: 'denied by rule no-admin' });
    expect(denied.principal).toBe(FRONTEND);
    const allowed = await explain(`url=${encodeURIComponent('http://reviews/reviews/7')}&principal=${encodeURIComponent(FRONTEND)}`);
    expect(allowed.decision).toMatchObject({ allowed: true, rule: 'frontend-reads' });
    expect(allowed.rules.map((r: { name: string; matched: boolean }) => [r.name, r.matched])).toEqual([['no-admin', false], ['frontend-reads', true], ['health', false]]);
    const plaintext = await explain(`url=${encodeURIComponent('http://reviews/reviews/7')}`);
    expect(plaintext).toMatchObject({ principal: null, decision: { allowed: false, rule: null } });
    expect(plaintext.rules[1].failed).toMatchObject({ check: 'principals', actual: null });
    expect((await request(b.sidecar.ports.admin, { path: `/explain?direction=inbound&url=http://reviews/&principal=nope` })).status).toBe(400);
    // The CLI, offline, on the same policy file.
    const file = b.sidecar.options.policyFile;
    const { stdout } = await run(process.execPath, [CLI, 'explain', file, '--inbound', '--url', 'http://reviews/orders/1', '--principal', FRONTEND]);
    expect(stdout).toContain(`authorization (peer ${FRONTEND}, path /orders/1), deny rules first:`);
    expect(stdout).toMatch(/no {6}frontend-reads \[allow\]: path in \[.*\] ≠ "\/orders\/1"/);
    expect(stdout).toContain('→ DENIED (403 AD): no allow rule matched');
  });

  it('permissive: a plaintext peer on the same port has no principal — denied where a principal is needed, allowed where not', async () => {
    const r = await request(b.sidecar.ports.inbound, { path: '/reviews/7', headers: { host: 'reviews' } });
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ policy: null });
    const before = app.seen.length;
    expect((await request(b.sidecar.ports.inbound, { path: '/healthz', headers: { host: 'reviews', 'x-forwarded-client-cert': `URI=${FRONTEND}` } })).status).toBe(200);
    expect(app.seen[before]!.headers['x-forwarded-client-cert']).toBeUndefined();
    await waitFor(() => b.access.some((l) => l.path === '/healthz'));
    expect(b.access.find((l) => l.path === '/healthz')).toMatchObject({ peer: '', status: 200 });
  });
});

/** One request over h2c with prior knowledge to the sidecar's `port`: status, body and flags. */
async function h2cGet(port: number, authority: string): Promise<{ status: number; body: string; flags: string }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  try {
    return await new Promise((resolve, reject) => {
      const req = session.request({ ':path': '/alpn', ':authority': authority });
      let status = 0;
      let flags = '';
      let body = '';
      req.on('response', (h) => { status = Number(h[':status']); flags = String(h['x-pilotfish-flags'] ?? ''); });
      req.on('data', (c: Buffer) => { body += c; });
      req.on('end', () => resolve({ status, body, flags }));
      req.on('error', reject);
    });
  } finally {
    session.close();
  }
}

describe('ALPN to a TLS upstream', () => {
  it('protocol: downstream offers h2 then http/1.1: an HTTP/1.1-only server gets an h2c client\'s requests over HTTP/1.1; an h2 server over HTTP/2; protocol: http2 refuses HTTP/1.1 (UF, saying why)', async () => {
    const serverDir = await writeLeafDir(mesh.ca, { dns: ['api.example.test'], ips: ['127.0.0.1'] });
    const creds = { key: await readFile(path.join(serverDir, 'tls.key')), cert: await readFile(path.join(serverDir, 'tls.crt')) };
    const caFile = path.join(serverDir, 'ca.crt');
    // HTTP/1.1 only: one that says so by ALPN, and one that does no ALPN at all.
    const h1 = https.createServer({ ...creds, ALPNProtocols: ['http/1.1'] }, (req, res) => res.end(`h1:${req.httpVersion}`));
    // (https.Server answers ALPN with http/1.1 itself: a bare TLS server behind node:http does no ALPN.)
    const plain = http.createServer((req, res) => res.end(`plain:${req.httpVersion}`));
    const noAlpn = tls.createServer(creds, (socket) => plain.emit('connection', socket));
    cleanup.push(() => plain.closeAllConnections());
    const h2 = http2.createSecureServer({ ...creds, allowHTTP1: true }, (req, res) => res.end(`h2:${req.httpVersion}`));
    const ports: number[] = [];
    for (const server of [h1, noAlpn, h2]) {
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      ports.push((server.address() as { port: number }).port);
      cleanup.push(() => { (server as https.Server).closeAllConnections?.(); server.close(); });
    }
    const [h1Port, noAlpnPort, h2Port] = ports;
    const s = await meshSidecar(`version: 1\n${testListeners()}upstreams:
  h1: { endpoints: [{ address: "127.0.0.1:${h1Port}" }], tls: { mode: simple, caFile: ${caFile} } }
  noalpn: { endpoints: [{ address: "127.0.0.1:${noAlpnPort}" }], tls: { mode: simple, caFile: ${caFile} } }
  h2: { endpoints: [{ address: "127.0.0.1:${h2Port}" }], tls: { mode: simple, caFile: ${caFile} } }
  strict: { protocol: http2, endpoints: [{ address: "127.0.0.1:${h1Port}" }], tls: { mode: simple, caFile: ${caFile} } }
  strict2: { protocol: http2, endpoints: [{ address: "127.0.0.1:${noAlpnPort}" }], tls: { mode: simple, caFile: ${caFile} } }
routes:
  - { name: h1, match: { host: h1 }, to: [{ upstream: h1 }] }
  - { name: noalpn, match: { host: noalpn }, to: [{ upstream: noalpn }] }
  - { name: h2, match: { host: h2 }, to: [{ upstream: h2 }] }
  - { name: strict, match: { host: strict }, to: [{ upstream: strict }] }
  - { name: strict2, match: { host: strict2 }, to: [{ upstream: strict2 }] }
`);
    const port = s.sidecar.ports.outbound;
    // The first requests wait for the handshake; later ones know the endpoint's protocol. Both at once too.
    for (const batch of [1, 3]) {
      const rs = await Promise.all(Array.from({ length: batch }, () => Promise.all([h2cGet(port, 'h1'), h2cGet(port, 'noalpn'), h2cGet(port, 'h2')])));
      for (const [a, b, c] of rs) {
        expect(a).toEqual({ status: 200, body: 'h1:1.1', flags: '' });
        expect(b).toEqual({ status: 200, body: 'plain:1.1', flags: '' });
        expect(c).toEqual({ status: 200, body: 'h2:2.0', flags: '' });
      }
    }
    // protocol: http2 offers only h2: the ALPN server refuses the handshake, the other one is refused by us.
    const strict = await h2cGet(port, 'strict');
    expect([strict.status, strict.flags]).toEqual([503, 'UF']);
    expect(JSON.parse(strict.body).error).toContain('no application protocol');
    const strict2 = await h2cGet(port, 'strict2');
    expect([strict2.status, strict2.flags]).toEqual([503, 'UF']);
    expect(JSON.parse(strict2.body).error).toContain('did not negotiate HTTP/2 (ALPN h2)');
    // An HTTP/1.1 client to the h2 server stays HTTP/1.1, as downstream says.
    expect((await request(port, { headers: { host: 'h2' } })).text).toBe('h2:1.1');
  });
});

describe('simple TLS origination', () => {
  it('ordinary TLS to a server trusted through caFile, its DNS/IP name checked', async () => {
    const serverDir = await writeLeafDir(mesh.ca, { dns: ['api.example.test'], ips: ['127.0.0.1'] });
    const server = https.createServer({ key: await readFile(path.join(serverDir, 'tls.key')), cert: await readFile(path.join(serverDir, 'tls.crt')) }, (req, res) => res.end(`tls:${(req.socket as tls.TLSSocket).servername || 'no-sni'}`));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanup.push(() => { server.closeAllConnections(); server.close(); });
    const port = (server.address() as { port: number }).port;
    const caFile = path.join(serverDir, 'ca.crt');
    const s = await meshSidecar(`version: 1\n${testListeners()}upstreams:
  byip: { endpoints: [{ address: "127.0.0.1:${port}" }], tls: { mode: simple, caFile: ${caFile} } }
  byname: { endpoints: [{ address: "127.0.0.1:${port}" }], tls: { mode: simple, caFile: ${caFile}, sni: api.example.test } }
  wrongname: { endpoints: [{ address: "127.0.0.1:${port}" }], tls: { mode: simple, caFile: ${caFile}, sni: other.example.test } }
  untrusted: { endpoints: [{ address: "127.0.0.1:${port}" }], tls: { mode: simple } }
routes:
  - { name: ip, match: { host: ip }, to: [{ upstream: byip }] }
  - { name: name, match: { host: name }, to: [{ upstream: byname }] }
  - { name: wrong, match: { host: wrong }, to: [{ upstream: wrongname }] }
  - { name: untrusted, match: { host: untrusted }, to: [{ upstream: untrusted }] }
`);
    const get = (host: string) => request(s.sidecar.ports.outbound, { headers: { host } });
    expect((await get('ip')).text).toBe('tls:no-sni'); // no SNI for an IP address
    expect((await get('name')).text).toBe('tls:api.example.test');
    const wrong = await get('wrong');
    expect([wrong.status, wrong.headers['x-pilotfish-flags']]).toEqual([503, 'UF']);
    expect(wrong.json<{ error: string }>().error).toContain('server identity');
    const untrusted = await get('untrusted');
    expect([untrusted.status, untrusted.headers['x-pilotfish-flags']]).toEqual([503, 'UF']);
    expect(untrusted.json<{ error: string }>().error).toContain('not issued by a trusted CA');
  });
});
