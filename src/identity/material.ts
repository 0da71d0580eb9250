/**
 * The workload's TLS material as read from its three files (cert-manager's Secret layout:
 * `tls.crt` — the leaf, then any intermediates —, `tls.key`, `ca.crt` — the mesh's trust anchors),
 * checked before it is used: the certificate parses, the key is the certificate's, the chain
 * reaches a certificate of `ca.crt`, the leaf carries exactly one SPIFFE ID in the configured trust
 * domain, and it is within its validity. A pair that fails any check is refused whole, with the
 * reason: the caller keeps what it had. Built on node:crypto (`X509Certificate`), so the sidecar
 * never loads an X.509 library.
 */
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { parseSpiffeId, uriSans, type SpiffeId } from './spiffe.js';

/** The workload's credentials, checked and parsed once per rotation. */
export interface IdentityMaterial {
  /** PEM texts as read (handed to node:tls). */
  readonly certPem: string;
  readonly keyPem: string;
  readonly caPem: string;
  readonly spiffe: SpiffeId;
  readonly leaf: X509Certificate;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 of the three files' contents: an unchanged rotation event is a no-op. */
  readonly digest: string;
}

export interface MaterialFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

export type MaterialResult = { ok: true; material: IdentityMaterial } | { ok: false; reason: string };

/** Checks the three files' texts; `now` is when validity is judged (ms since the epoch). */
export function checkMaterial(texts: MaterialFiles, trustDomain: string, now: number): MaterialResult {
  let chain: X509Certificate[];
  let anchors: X509Certificate[];
  let key: KeyObject;
  try { chain = parseCertificates(texts.cert); } catch (err) { return fail(`certificate: ${message(err)}`); }
  try { anchors = parseCertificates(texts.ca); } catch (err) { return fail(`CA bundle: ${message(err)}`); }
  try { key = createPrivateKey(texts.key); } catch (err) { return fail(`private key: ${message(err)}`); }
  if (chain.length === 0) return fail('certificate: no PEM certificate in the file');
  if (anchors.length === 0) return fail('CA bundle: no PEM certificate in the file');
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(key)) return fail('the private key does not belong to the certificate (a mismatched pair)');
  const chained = chainsTo(chain, anchors);
  if (chained !== undefined) return fail(chained);
  const ids = uriSans(leaf.subjectAltName).filter((u) => u.startsWith('spiffe://'));
  if (ids.length !== 1) return fail(`the certificate has ${ids.length} SPIFFE IDs in its URI SANs (an X.509-SVID has exactly one)`);
  const spiffe = parseSpiffeId(ids[0]!);
  if (typeof spiffe === 'string') return fail(`the certificate's SPIFFE ID ${ids[0]}: ${spiffe}`);
  if (spiffe.trustDomain !== trustDomain) return fail(`the certificate's SPIFFE ID ${spiffe.id} is not in the trust domain ${trustDomain}`);
  const notBefore = leaf.validFromDate;
  const notAfter = leaf.validToDate;
  if (now < notBefore.getTime()) return fail(`the certificate is not valid before ${notBefore.toISOString()}`);
  if (now >= notAfter.getTime()) return fail(`the certificate expired at ${notAfter.toISOString()}`);
  const digest = createHash('sha256').update(texts.cert).update('\0').update(texts.key).update('\0').update(texts.ca).digest('hex');
  return { ok: true, material: { certPem: texts.cert, keyPem: texts.key, caPem: texts.ca, spiffe, leaf, notBefore, notAfter, digest } };
}

/** Every PEM certificate in `text`, in order. Throws on one that does not parse. */
export function parseCertificates(text: string): X509Certificate[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

/**
 * Undefined when each certificate of `chain` is issued (and signed) by the next, and the last by
 * one of `anchors` (or is one of them); else what is wrong.
 */
function chainsTo(chain: readonly X509Certificate[], anchors: readonly X509Certificate[]): string | undefined {
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!issuedBy(chain[i]!, chain[i + 1]!)) return `certificate ${i + 1} of the chain is not issued by certificate ${i + 2}`;
  }
  const last = chain[chain.length - 1]!;
  if (anchors.some((a) => a.fingerprint256 === last.fingerprint256 || issuedBy(last, a))) return undefined;
  return `the certificate does not chain to the CA bundle (issuer ${last.issuer.replace(/\n/g, ', ')})`;
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

function fail(reason: string): MaterialResult {
  return { ok: false, reason };
}

function message(err: unknown): string {
  return (err as Error).message ?? String(err);
}
