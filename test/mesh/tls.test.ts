/**
 * Library mode and TLS (SPEC §10, §12), in process against real TLS servers on loopback:
 * - a `mutual` upstream: the mesh, holding a workload identity minted by `pilotfish certs`, calls a
 *   real sidecar in `strict` mode through `mesh.fetch` and `mesh.dispatcher`; the app behind it learns
 *   the mesh's SPIFFE ID; a `subjectAltNames` mismatch is the sidecar's own 503 `UF` answer, naming it;
 * - `https://` the application originates itself: under `allow-any` it goes out unchanged to a real
 *   TLS server (a test CA the application trusts), under `registry-only` it is the sidecar's 404 `NR`.
 */
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from '../../src/index.js';
import { createCa, issueCertificate } from '../../src/identity/mint.js';
import { meshCa, type Mesh as MeshCa } from '../helpers/certs.js';
import { waitFor } from '../helpers/http.js';
import { identityBlock, inboundPolicy, meshSidecar, type MeshSidecar } from '../helpers/mesh.js';
import { TEST_ENGINE } from '../helpers/sidecar.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';
const REVIEWS = 'spiffe://cluster.local/ns/shop/sa/reviews';
const CART = 'spiffe://cluster.local/ns/shop/sa/cart';

const cleanup: Array<() => Promise<void> | void> = [];
afterAll(async () => { for (const fn of cleanup.splice(0).reverse()) await fn(); });

async function mesh(policy: string): Promise<Mesh> {
  const m = await createMesh({ policy, engine: TEST_ENGINE, watch: false });
  cleanup.push(() => m.close());
  return m;
}

/** The two ways into the mesh, one answer shape: status, flags header, body text. */
const ways: Array<[string, (m: Mesh, url: string) => Promise<{ status: number; flags: string | undefined; text: string }>]> = [
  ['mesh.fetch', async (m, url) => {
    const r = await m.fetch(url);
    return { status: r.status, flags: r.headers.get('x-pilotfish-flags') ?? undefined, text: await r.text() };
  }],
  ['undici.request through mesh.dispatcher', async (m, url) => {
    const r = await undiciRequest(url, { dispatcher: m.dispatcher });
    return { status: r.statusCode, flags: r.headers['x-pilotfish-flags'] as string | undefined, text: await r.body.text() };
  }],
];

describe('a mutual-TLS upstream: the mesh calls a strict sidecar with its workload identity', () => {
  let ca: MeshCa;
  let app: Upstream;
  let b: MeshSidecar;
  let frontendDir: string;
  let calls = 0;
  /** The mesh's policy: its identity, upstream `reviews` (B's strict inbound port) with `tls`. */
  const policy = (sans: string): string => `version: 1
${identityBlock(frontendDir)}upstreams:
  reviews: { endpoints: [{ address: "127.0.0.1:${b.sidecar.ports.inbound}" }], tls: { mode: mutual, subjectAltNames: [${sans}] } }
routes:
  - { name: to-reviews, match: { host: reviews }, to: [{ upstream: reviews }] }
`;

  beforeAll(async () => {
    ca = await meshCa();
    let reviewsDir: string;
    [frontendDir, reviewsDir] = await Promise.all([ca.issue(FRONTEND, 'frontend'), ca.issue(REVIEWS, 'reviews')]);
    app = await startUpstream();
    cleanup.push(() => app.close());
    b = await meshSidecar(inboundPolicy(app, reviewsDir, 'strict'), cleanup);
  });

  it.each(ways)('through %s: the call succeeds and the app behind B learns the mesh\'s SPIFFE ID', async (_way, call) => {
    const m = await mesh(policy(REVIEWS));
    const before = app.seen.length;
    const path = `/reviews/${++calls}`;
    const r = await call(m, `http://reviews${path}`);
    expect(r.status).toBe(200);
    expect((JSON.parse(r.text) as { url: string }).url).toBe(path);
    const seen = app.seen.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers['x-forwarded-client-cert']).toMatch(new RegExp(`^By=${REVIEWS};Hash=[0-9a-f]{64};Subject="";URI=${FRONTEND}$`));
    // B saw a mutual-TLS peer: its access log names the mesh's identity.
    const line = await waitFor(() => b.access.find((l) => l.path === path), { what: 'B\'s access-log line' });
    expect(line).toMatchObject({ direction: 'inbound', status: 200, peer: FRONTEND });
  });

  it.each(ways)('through %s: a subjectAltNames mismatch is the sidecar\'s 503 UF, naming it, and B\'s app is never reached', async (_way, call) => {
    const m = await mesh(policy(CART));
    const before = app.seen.length;
    const r = await call(m, 'http://reviews/mismatch');
    expect([r.status, r.flags]).toEqual([503, 'UF']);
    const body = JSON.parse(r.text) as { error: string; flags: string };
    expect(body.flags).toBe('UF');
    expect(body.error).toContain(`is not in subjectAltNames [${CART}]`);
    expect(app.seen.length).toBe(before);
  });
});

describe('https:// the application originates itself', () => {
  let server: https.Server;
  let origin: string;
  const seen: string[] = [];
  let trusted: string[];

  beforeAll(async () => {
    // A TLS server on 127.0.0.1 with a certificate of a test CA, which the application trusts (as an
    // app with its own CA bundle does): the mesh's passthrough verifies it with the process's trust.
    const testCa = await createCa({ trustDomain: 'test.local' });
    const leaf = await issueCertificate(testCa, { ips: ['127.0.0.1'], commonName: 'tls-server' });
    server = https.createServer({ key: leaf.key, cert: leaf.cert }, (req, res) => {
      seen.push(req.url ?? '');
      res.setHeader('content-type', 'text/plain');
      res.end(`tls ${req.url} ${req.headers['x-request-id'] === undefined ? 'untouched' : 'touched'}`);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    trusted = tls.getCACertificates('default');
    tls.setDefaultCACertificates([...trusted, testCa.cert]);
    cleanup.push(async () => {
      tls.setDefaultCACertificates(trusted);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    });
  });

  const body = (trafficPolicy: string): string => `version: 1
outboundTrafficPolicy: ${trafficPolicy}
upstreams: { u: { endpoints: [{ address: "127.0.0.1:1" }] } }
routes: [{ name: r, match: { host: svc }, to: [{ upstream: u }] }]
`;

  it.each(ways)('under allow-any, through %s: goes out unchanged to the real TLS server', async (_way, call) => {
    const m = await mesh(body('allow-any'));
    const before = seen.length;
    const r = await call(m, `${origin}/direct?x=1`);
    expect(r.status).toBe(200);
    expect(r.flags).toBeUndefined();
    // Unchanged: the mesh adds no forwarding headers to TLS it cannot read.
    expect(r.text).toBe('tls /direct?x=1 untouched');
    expect(seen.slice(before)).toEqual(['/direct?x=1']);
  });

  it.each(ways)('under registry-only, through %s: the sidecar\'s 404 NR, and the TLS server is never reached', async (_way, call) => {
    const m = await mesh(body('registry-only'));
    const before = seen.length;
    const r = await call(m, `${origin}/refused`);
    expect([r.status, r.flags]).toEqual([404, 'NR']);
    expect(JSON.parse(r.text)).toMatchObject({ flags: 'NR' });
    expect(seen.length).toBe(before);
  });
});
