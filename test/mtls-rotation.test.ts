/**
 * Certificate rotation under load (SPEC §12): A → B with mutual TLS, both sidecars' certificates
 * mounted as Kubernetes mounts a Secret (files symlinked through `..data`, an update swaps `..data`
 * atomically). Both are re-issued and swapped while 2,000 requests run: none fails, connections
 * open before the swap carry on with the old certificates, new handshakes use the new ones — B
 * serves its new certificate, A presents its new one (B's app sees its hash in XFCC). A pair that
 * fails its checks (a key of another certificate) keeps the previous one and says so in the log,
 * the metric and `/config_dump`.
 */
import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueCertificate, type Pem } from '../src/identity/mint.js';
import { SecretVolume } from './helpers/certs.js';
import { request, waitFor } from './helpers/http.js';
import { inboundPolicy, meshSidecar, outboundPolicy, type MeshSidecar } from './helpers/mesh.js';
import { echo, startUpstream, type Upstream } from './helpers/upstream.js';

const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';
const REVIEWS = 'spiffe://cluster.local/ns/shop/sa/reviews';
const TOTAL = 2000;
const STEADY = 8;
/** Requests held together by the app after the swap: more than A's pool can hold, so A must open new connections. */
const BURST = 32;
const HOUR = 3_600_000;

const cleanup: Array<() => Promise<void> | void> = [];
afterAll(async () => { for (const fn of cleanup.splice(0).reverse()) await fn(); });

const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
const serialOf = (pem: string): string => new X509Certificate(pem).serialNumber;
const files = (ca: Pem, leaf: Pem) => ({ cert: leaf.cert, key: leaf.key, ca: ca.cert });
const xfccHash = (h: http.IncomingHttpHeaders): string | undefined => /;Hash=([0-9a-f]{64});/.exec(String(h['x-forwarded-client-cert'] ?? ''))?.[1];

/** The serial of the certificate `port` presents on a new full handshake (no session resumed). */
function servedSerial(port: number, client: Pem, ca: Pem): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, key: client.key, cert: client.cert, ca: ca.cert, checkServerIdentity: () => undefined }, () => {
      resolve(s.getPeerX509Certificate()!.serialNumber);
      s.destroy();
    });
    s.on('error', reject);
  });
}

let ca: Pem;
let aVol: SecretVolume;
let bVol: SecretVolume;
let a: MeshSidecar;
let b: MeshSidecar;
let app: Upstream;
let aNew: Pem;
let bNew: Pem;
let aOld: Pem;
let bOld: Pem;
/** `/burst/*` requests are held until BURST of them are in, then answered together. */
const held: Array<() => void> = [];

beforeAll(async () => {
  ca = await createCa();
  [aOld, bOld, aNew, bNew] = await Promise.all([
    issueCertificate(ca, { id: FRONTEND }),
    issueCertificate(ca, { id: REVIEWS }),
    issueCertificate(ca, { id: FRONTEND, notAfter: new Date(Date.now() + 48 * HOUR) }),
    issueCertificate(ca, { id: REVIEWS, notAfter: new Date(Date.now() + 48 * HOUR) }),
  ]);
  [aVol, bVol] = await Promise.all([SecretVolume.create(files(ca, aOld)), SecretVolume.create(files(ca, bOld))]);
  app = await startUpstream((req, res) => {
    if (!req.url?.startsWith('/burst/')) { echo(req, res); return; }
    held.push(() => echo(req, res));
    if (held.length === BURST) for (const release of held.splice(0)) release();
  });
  cleanup.push(() => app.close());
  b = await meshSidecar(inboundPolicy(app, bVol.dir, 'strict'), cleanup);
  a = await meshSidecar(outboundPolicy(aVol.dir, b.sidecar.ports.inbound, `{ mode: mutual, subjectAltNames: [${REVIEWS}] }`), cleanup);
});

describe('certificate rotation under load', () => {
  it(`swaps both sidecars' certificates while ${TOTAL} requests run: zero failures, new handshakes use the new certificates`, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: STEADY });
    cleanup.push(() => agent.destroy());
    const failures: string[] = [];
    let sent = 0;
    let done = 0;
    let seenAtSwap = -1;
    const call = async (path: string, via: http.Agent | false): Promise<void> => {
      try {
        const r = await request(a.sidecar.ports.outbound, { path, headers: { host: 'reviews' }, agent: via });
        if (r.status !== 200) failures.push(`${path}: ${r.status} ${r.headers['x-pilotfish-flags'] ?? ''} ${r.text.slice(0, 200)}`);
      } catch (err) {
        failures.push(`${path}: ${(err as Error).message}`);
      }
      done++;
    };
    const steady = async (): Promise<void> => {
      while (sent < TOTAL - BURST) { sent++; await call(`/steady/${sent}`, agent); }
    };
    const rotation = (async () => {
      await waitFor(() => done >= 400, { timeoutMs: 30_000, what: '400 requests before the swap' });
      await Promise.all([aVol.write(files(ca, aNew)), bVol.write(files(ca, bNew))]);
      await waitFor(() => a.sidecar.workloadIdentity!.rotations === 1 && b.sidecar.workloadIdentity!.rotations === 1, { timeoutMs: 15_000, what: 'both sidecars to rotate' });
      seenAtSwap = app.seen.length;
      // Held together by the app, these need more connections than A has: new handshakes, new certificates.
      await Promise.all(Array.from({ length: BURST }, (_, i) => call(`/burst/${i}`, false)));
    })();
    await Promise.all([...Array.from({ length: STEADY }, steady), rotation]);

    expect(failures).toEqual([]);
    expect(done).toBe(TOTAL);
    expect(app.seen.length).toBeGreaterThanOrEqual(TOTAL);
    const after = app.seen.slice(seenAtSwap);
    // New connections from A present A's new certificate (B verified it against the mesh CA)…
    expect(after.filter((s) => s.url.startsWith('/burst/')).some((s) => xfccHash(s.headers) === fingerprint(aNew.cert))).toBe(true);
    // …while the connections open before the swap carried on with the old one.
    expect(after.some((s) => s.url.startsWith('/steady/') && xfccHash(s.headers) === fingerprint(aOld.cert))).toBe(true);
    // B serves its new certificate on a new handshake.
    expect(await servedSerial(b.sidecar.ports.inbound, aNew, ca)).toBe(serialOf(bNew.cert));
    // Telemetry: two good loads each (start, rotation) and the new expiry.
    for (const s of [a, b]) {
      expect(await s.metric('pilotfish_cert_reloads_total', { result: 'ok' })).toBeGreaterThanOrEqual(2);
      expect(await s.metric('pilotfish_cert_reloads_total', { result: 'error' })).toBe(0);
    }
    expect(await b.metric('pilotfish_cert_expiry_timestamp_seconds')).toBe(Math.floor(new X509Certificate(bNew.cert).validToDate.getTime() / 1000));
    expect(b.logs.some((l) => l.msg === 'workload certificate rotated' && l.spiffeId === REVIEWS)).toBe(true);
  }, 90_000);

  it('a pair that fails its checks keeps the previous one, reported in the log, the metric and /config_dump', async () => {
    const errors = (await b.metric('pilotfish_cert_reloads_total', { result: 'error' })) ?? 0;
    const stranger = await issueCertificate(ca, { id: REVIEWS });
    await bVol.write({ cert: stranger.cert, key: aNew.key, ca: ca.cert }); // a certificate with another's key
    await waitFor(() => b.logs.some((l) => l.msg === 'workload certificate not rotated; keeping the previous one'), { timeoutMs: 15_000, what: 'the refusal to be logged' });
    expect(b.logs.find((l) => l.msg === 'workload certificate not rotated; keeping the previous one')).toMatchObject({ reason: expect.stringContaining('mismatched pair'), serving: REVIEWS });
    expect(await b.metric('pilotfish_cert_reloads_total', { result: 'error' })).toBe(errors + 1);
    const dump = (await request(b.sidecar.ports.admin, { path: '/config_dump' })).json<{ identity: Record<string, any> }>().identity;
    expect(dump).toMatchObject({ spiffeId: REVIEWS, serial: serialOf(bNew.cert), lastError: { reason: expect.stringContaining('mismatched pair') } });
    // Still serving, with the pair it had.
    expect(await servedSerial(b.sidecar.ports.inbound, aNew, ca)).toBe(serialOf(bNew.cert));
    expect((await request(a.sidecar.ports.outbound, { path: '/after-refusal', headers: { host: 'reviews' } })).status).toBe(200);
    // A good pair after it is taken, and the error clears.
    await bVol.write(files(ca, stranger));
    await waitFor(async () => (await request(b.sidecar.ports.admin, { path: '/config_dump' })).json<{ identity: Record<string, any> }>().identity.lastError === null, { timeoutMs: 15_000, what: 'the good pair to be taken' });
    expect(await servedSerial(b.sidecar.ports.inbound, aNew, ca)).toBe(serialOf(stranger.cert));
  }, 60_000);
});
