/**
 * Minting a mesh CA and workload certificates (`pilotfish certs`, and the tests), on @peculiar/x509
 * over WebCrypto — no hand-written ASN.1. ECDSA P-256 throughout, as Istio's and cert-manager's
 * defaults. The shapes follow the SPIFFE X.509-SVID profile: the CA is `CA:TRUE` with
 * `keyCertSign`, a leaf is `CA:FALSE` with `digitalSignature`, `serverAuth` + `clientAuth` (a
 * sidecar is both), and exactly one URI SAN, the SPIFFE ID (critical, since the subject is empty).
 * `openssl verify -CAfile ca.crt tls.crt` accepts them (the tests check it).
 *
 * The sidecar itself never loads this module (or @peculiar/x509): it reads certificates with
 * node:crypto's `X509Certificate` (material.ts).
 */
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const HOUR = 3_600_000;

/** A PEM certificate and its PEM (PKCS#8) private key. */
export interface Pem {
  readonly cert: string;
  readonly key: string;
}

export interface CaOptions {
  /** The CA's subject common name. Default `pilotfish mesh CA`. */
  readonly name?: string;
  /** The trust domain, written as the CA's URI SAN `spiffe://<trust-domain>`. Default `cluster.local`. */
  readonly trustDomain?: string;
  /** Validity start. Default: one minute ago (clock skew). */
  readonly notBefore?: Date;
  /** Validity end. Default: one year after `notBefore`. */
  readonly notAfter?: Date;
}

export interface LeafOptions {
  /** The workload's SPIFFE ID (`spiffe://<trust-domain>/ns/<ns>/sa/<sa>`), the certificate's URI SAN. */
  readonly id?: string;
  /** DNS names to add as SANs (a server a client dials by name). */
  readonly dns?: readonly string[];
  /** IP addresses to add as SANs (a server a client dials by address). */
  readonly ips?: readonly string[];
  /** Subject common name. Default none (an empty subject, as SPIFFE SVIDs have). */
  readonly commonName?: string;
  /** Validity start. Default: one minute ago. */
  readonly notBefore?: Date;
  /** Validity end. Default: 24 hours after `notBefore` (short-lived, as mesh certificates are). */
  readonly notAfter?: Date;
}

/** A self-signed mesh CA. */
export async function createCa(options: CaOptions = {}): Promise<Pem> {
  const keys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: [{ CN: [options.name ?? 'pilotfish mesh CA'] }, { O: ['pilotfish'] }],
    notBefore,
    notAfter: options.notAfter ?? new Date(notBefore.getTime() + 365 * 24 * HOUR),
    keys,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${options.trustDomain ?? 'cluster.local'}` }]),
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: await keyPem(keys.privateKey) };
}

/** A workload (leaf) certificate signed by `ca`. At least one of `id`, `dns`, `ips` is needed. */
export async function issueCertificate(ca: Pem, options: LeafOptions): Promise<Pem> {
  const names: x509.JsonGeneralName[] = [
    ...(options.id === undefined ? [] : [{ type: 'url' as const, value: options.id }]),
    ...(options.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  if (names.length === 0) throw new Error('a certificate needs a SPIFFE ID, a DNS name or an IP address');
  const issuer = new x509.X509Certificate(ca.cert);
  const signingKey = await importKey(ca.key);
  const keys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const subject = options.commonName === undefined ? '' : `CN=${options.commonName}`;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: issuer.subject,
    notBefore,
    notAfter: options.notAfter ?? new Date(notBefore.getTime() + 24 * HOUR),
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey),
      // RFC 5280 §4.2.1.6: with an empty subject the SAN extension must be critical.
      new x509.SubjectAlternativeNameExtension(names, subject === ''),
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: await keyPem(keys.privateKey) };
}

/** A positive serial number of 16 random bytes (RFC 5280: at most 20 octets, positive). */
function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f | 0x01;
  return b.toString('hex');
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
}

async function importKey(pem: string): Promise<webcrypto.CryptoKey> {
  const body = pem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/=]+$/.test(body) || body.length === 0) throw new Error('the CA key is not a PEM PKCS#8 private key ("BEGIN PRIVATE KEY")');
  return webcrypto.subtle.importKey('pkcs8', Buffer.from(body, 'base64'), EC, false, ['sign']);
}
