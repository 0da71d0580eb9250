/**
 * The checks a workload pair passes before it serves, on certificates minted by mint.ts (the module
 * behind `pilotfish certs`), and the minted certificates themselves: accepted by OpenSSL (inside
 * node:tls) for a mutual handshake, with the extensions the SVID profile asks for.
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkMaterial } from './material.js';
import { createCa, issueCertificate, type Pem } from './mint.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/frontend';
const HOUR = 3_600_000;
let ca: Pem;
let leaf: Pem;

beforeAll(async () => {
  ca = await createCa();
  leaf = await issueCertificate(ca, { id: ID });
});

describe('minted certificates', () => {
  it('a CA and a leaf with the SVID profile: CA:TRUE/keyCertSign, CA:FALSE, one URI SAN, issued and signed by the CA', () => {
    const root = new X509Certificate(ca.cert);
    const cert = new X509Certificate(leaf.cert);
    expect(root.ca).toBe(true);
    expect(root.subjectAltName).toBe('URI:spiffe://cluster.local');
    expect(cert.ca).toBe(false);
    expect(cert.subjectAltName).toBe(`URI:${ID}`);
    expect(cert.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'])); // serverAuth, clientAuth
    expect(cert.checkIssued(root)).toBe(true);
    expect(cert.verify(root.publicKey)).toBe(true);
    expect(cert.validToDate.getTime() - cert.validFromDate.getTime()).toBe(24 * HOUR);
  });

  it('serve a mutual TLS handshake verified both ways by OpenSSL, with client and server purposes', async () => {
    const server = await issueCertificate(ca, { id: 'spiffe://cluster.local/ns/shop/sa/reviews' });
    const srv = tls.createServer({ key: server.key, cert: server.cert, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (s) => s.end('ok'));
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const port = (srv.address() as { port: number }).port;
    const client = tls.connect({ host: '127.0.0.1', port, key: leaf.key, cert: leaf.cert, ca: ca.cert, checkServerIdentity: () => undefined });
    let text = '';
    client.on('data', (c) => { text += c; });
    await once(client, 'end');
    expect(client.authorized).toBe(true);
    expect(text).toBe('ok');
    client.destroy();
    srv.close();
  });

  it('take DNS and IP SANs for servers dialled by name or address', async () => {
    const cert = new X509Certificate((await issueCertificate(ca, { dns: ['redis.local'], ips: ['127.0.0.1'] })).cert);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('redis.local')).toBe('redis.local');
  });
});

describe('checkMaterial', () => {
  const now = Date.now();

  it('accepts a good pair and reads its SPIFFE ID and validity', () => {
    const r = checkMaterial({ cert: leaf.cert, key: leaf.key, ca: ca.cert }, 'cluster.local', now);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.material.spiffe).toMatchObject({ id: ID, namespace: 'shop', serviceAccount: 'frontend' });
    expect(r.material.notAfter.getTime()).toBeGreaterThan(now);
  });

  it('accepts a CA bundle with the issuing CA second (a CA rotation in progress)', async () => {
    const next = await createCa();
    expect(checkMaterial({ cert: leaf.cert, key: leaf.key, ca: next.cert + ca.cert }, 'cluster.local', now).ok).toBe(true);
  });

  it.each<[string, () => Promise<{ cert: string; key: string; ca: string }>, string]>([
    ['a key of another certificate', async () => ({ cert: leaf.cert, key: (await issueCertificate(ca, { id: ID })).key, ca: ca.cert }), 'mismatched pair'],
    ['a certificate of another CA', async () => { const other = await createCa(); return { ...(await issueCertificate(other, { id: ID })), ca: ca.cert }; }, 'does not chain to the CA bundle'],
    ['an ID in another trust domain', async () => ({ ...(await issueCertificate(ca, { id: 'spiffe://example.org/ns/a/sa/b' })), ca: ca.cert }), 'not in the trust domain cluster.local'],
    ['no SPIFFE ID', async () => ({ ...(await issueCertificate(ca, { dns: ['a.local'] })), ca: ca.cert }), '0 SPIFFE IDs'],
    ['an expired certificate', async () => ({ ...(await issueCertificate(ca, { id: ID, notBefore: new Date(now - 3 * HOUR), notAfter: new Date(now - HOUR) })), ca: ca.cert }), 'expired at'],
    ['a certificate not valid yet', async () => ({ ...(await issueCertificate(ca, { id: ID, notBefore: new Date(now + HOUR) })), ca: ca.cert }), 'not valid before'],
    ['a truncated certificate', async () => ({ cert: leaf.cert.slice(0, 200) + '\n-----END CERTIFICATE-----\n', key: leaf.key, ca: ca.cert }), 'certificate:'],
    ['no certificate at all', async () => ({ cert: 'garbage', key: leaf.key, ca: ca.cert }), 'no PEM certificate'],
    ['a key that is not a key', async () => ({ cert: leaf.cert, key: 'nope', ca: ca.cert }), 'private key:'],
  ])('refuses %s, saying why', async (_name, make, why) => {
    const r = checkMaterial(await make(), 'cluster.local', now);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(why);
  });
});
