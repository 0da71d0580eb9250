/**
 * `x-forwarded-client-cert` as Envoy writes it for a sidecar's inbound mTLS (Istio's
 * `SANITIZE_SET`): `By=<our SPIFFE ID>;Hash=<hex SHA-256 of the peer's DER certificate>;
 * Subject="<peer subject>";URI=<peer SPIFFE ID>`. Values holding `,`, `;`, `=` or `"` are quoted,
 * with `"` and `\` escaped (Envoy's rule), so the app can split the header safely. Made once per
 * connection; a client's own header is always dropped before it (proxy/headers.ts).
 */
import type { X509Certificate } from 'node:crypto';

export function formatXfcc(by: string, peer: X509Certificate, peerId: string): string {
  const hash = peer.fingerprint256.replace(/:/g, '').toLowerCase();
  const subject = (peer.subject ?? '').split('\n').filter(Boolean).join(',');
  return `By=${value(by)};Hash=${hash};Subject="${escape(subject)}";URI=${value(peerId)}`;
}

function value(v: string): string {
  return /[,;="\\]/.test(v) ? `"${escape(v)}"` : v;
}

function escape(v: string): string {
  return v.replace(/[\\"]/g, (c) => `\\${c}`);
}
