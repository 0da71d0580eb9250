/**
 * SPIFFE IDs (the SPIFFE-ID standard, §2): `spiffe://<trust-domain><path>`, the trust domain in
 * lower-case letters, digits, `.`, `-` and `_`, the path segments in letters, digits, `.`, `-`, `_`,
 * none empty, `.` or `..`, no trailing slash, no query, fragment, port or user info. A Kubernetes
 * workload's is `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>` (Istio's, Linkerd's,
 * cert-manager csi-driver-spiffe's). Pure: no I/O.
 */

export interface SpiffeId {
  /** The whole ID, as written. */
  readonly id: string;
  readonly trustDomain: string;
  /** The path, `''` for the trust domain's own ID. */
  readonly path: string;
  /** From a `/ns/<namespace>/sa/<service-account>` path; undefined for other paths. */
  readonly namespace: string | undefined;
  readonly serviceAccount: string | undefined;
}

const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const SCHEME = 'spiffe://';

/** A SPIFFE ID, or the reason `text` is not one. */
export function parseSpiffeId(text: string): SpiffeId | string {
  if (!text.startsWith(SCHEME)) return 'a SPIFFE ID starts with spiffe://';
  const rest = text.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  const td = checkTrustDomain(trustDomain);
  if (td !== undefined) return td;
  if (path !== '') {
    const segments = path.slice(1).split('/');
    for (const s of segments) {
      if (s === '') return path.endsWith('/') ? 'a SPIFFE ID path has no trailing slash' : 'a SPIFFE ID path has no empty segment';
      if (s === '.' || s === '..') return 'a SPIFFE ID path has no "." or ".." segment';
      if (!SEGMENT.test(s)) return `path segment ${JSON.stringify(s)} has a character other than letters, digits, ".", "-", "_"`;
    }
  }
  const m = /^\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(path);
  return { id: text, trustDomain, path, namespace: m?.[1], serviceAccount: m?.[2] };
}

/** Undefined when `td` is a valid trust domain name, else why not. */
export function checkTrustDomain(td: string): string | undefined {
  if (td === '') return 'the trust domain is empty';
  if (!TRUST_DOMAIN.test(td)) return `trust domain ${JSON.stringify(td)} has a character other than lower-case letters, digits, ".", "-", "_" (a port, user info or upper case are not allowed)`;
  return undefined;
}

/**
 * The SPIFFE IDs among a certificate's SANs as node:crypto prints them (`subjectAltName`:
 * `DNS:a, URI:spiffe://…, IP Address:…`). An X.509-SVID has exactly one.
 */
export function uriSans(subjectAltName: string | undefined): string[] {
  return sanEntries(subjectAltName).filter((e) => e.type === 'URI').map((e) => e.value);
}

export interface SanEntry { readonly type: string; readonly value: string }

/**
 * Splits node:crypto's `subjectAltName` text into entries. Node quotes (JSON-style) a value that
 * holds a comma, quote or control character, so a crafted name cannot pass for two.
 */
export function sanEntries(subjectAltName: string | undefined): SanEntry[] {
  const out: SanEntry[] = [];
  if (!subjectAltName) return out;
  let i = 0;
  const s = subjectAltName;
  while (i < s.length) {
    const colon = s.indexOf(':', i);
    if (colon < 0) break;
    const type = s.slice(i, colon).trim();
    let j = colon + 1;
    let value: string;
    if (s[j] === '"') {
      let k = j + 1;
      while (k < s.length && s[k] !== '"') k += s[k] === '\\' ? 2 : 1;
      try { value = JSON.parse(s.slice(j, k + 1)) as string; } catch { value = s.slice(j + 1, k); }
      j = k + 1;
    } else {
      const comma = s.indexOf(', ', j);
      value = s.slice(j, comma < 0 ? s.length : comma);
      j = comma < 0 ? s.length : comma;
    }
    out.push({ type, value });
    const next = s.indexOf(', ', j);
    i = next < 0 ? s.length : next + 2;
  }
  return out;
}
