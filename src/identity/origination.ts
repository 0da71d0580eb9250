/**
 * An upstream's `tls` block (SPEC §12) made into what the engines' connectors use (`UpstreamTls`,
 * proxy/tls-connect.ts):
 * - `mutual`: present the workload certificate, trust only the mesh CA, and accept a server whose
 *   certificate carries a SPIFFE ID in our trust domain — and, when `subjectAltNames` is given,
 *   one of the SANs listed (Istio's DestinationRule `subjectAltNames`: URI, DNS or IP SANs, exact).
 *   node's host-name check is replaced: a mesh certificate has only a URI SAN (LIBRARIES.md).
 * - `simple`: ordinary TLS origination: the system's roots or `caFile`, the host-name check
 *   against SNI (or the endpoint's name) — or, when `subjectAltNames` is given, that list instead.
 */
import { readFile } from 'node:fs/promises';
import type { PeerCertificate, SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { tls } from '../core/lazy-builtins.js';
import type { UpstreamTls } from '../proxy/tls-connect.js';
import { sanEntries, parseSpiffeId } from './spiffe.js';
import type { WorkloadIdentity } from './workload-identity.js';

/** The policy's upstream `tls` block (config/schema.ts), `disable` excluded. */
export interface UpstreamTlsPolicy {
  readonly mode: 'mutual' | 'simple';
  readonly sni?: string | undefined;
  readonly subjectAltNames?: readonly string[] | undefined;
  /** `simple` only: trust these roots instead of the system's. */
  readonly caFile?: string | undefined;
}

export interface OriginationDeps {
  /** The workload identity; `mutual` needs one (validation sees to it). */
  readonly identity: WorkloadIdentity | undefined;
  readonly log: Logger;
}

/** How often one upstream endpoint's same TLS failure is logged (ms). */
const LOG_EVERY_MS = 10_000;

/**
 * Builds an upstream's TLS origination. Async: a `simple` upstream's `caFile` is read here (a build
 * that cannot read it fails, and the reload keeps the last good policy).
 */
export async function upstreamTls(upstream: string, policy: UpstreamTlsPolicy, deps: OriginationDeps): Promise<UpstreamTls> {
  const onFailure = failureLog(upstream, policy.mode, deps.log);
  if (policy.mode === 'mutual') {
    const identity = deps.identity;
    if (identity === undefined) throw new Error(`upstream ${upstream}: tls.mode mutual needs the sidecar's identity (the policy's \`identity\` block)`);
    const check = meshServerCheck(identity.config.trustDomain, policy.subjectAltNames);
    return { mode: 'mutual', sni: policy.sni, secureContext: () => identity.clientContext, checkServerIdentity: (_host, cert) => check(cert), epoch: () => identity.rotations, onFailure };
  }
  let context: SecureContext;
  try {
    context = policy.caFile === undefined ? tls().createSecureContext() : tls().createSecureContext({ ca: await readFile(policy.caFile, 'utf8') });
  } catch (err) {
    throw new Error(`upstream ${upstream}: tls.caFile ${policy.caFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const listed = policy.subjectAltNames;
  return {
    mode: 'simple', sni: policy.sni, secureContext: () => context,
    checkServerIdentity: (host, cert) => (listed === undefined ? tls().checkServerIdentity(host, cert) : listedSan(cert, listed)),
    epoch: () => 0, onFailure,
  };
}

/** The `mutual` check: a SPIFFE ID in the trust domain, and (when listed) a SAN of the list. */
export function meshServerCheck(trustDomain: string, listed: readonly string[] | undefined): (cert: PeerCertificate) => Error | undefined {
  return (cert) => {
    const sans = sanEntries(cert.subjectaltname);
    const ids = sans.filter((e) => e.type === 'URI').map((e) => parseSpiffeId(e.value)).filter((id) => typeof id !== 'string');
    if (!ids.some((id) => id.trustDomain === trustDomain)) {
      return identityError(`the server certificate has no SPIFFE ID in the trust domain ${trustDomain} (SANs: ${cert.subjectaltname || 'none'})`);
    }
    return listed === undefined ? undefined : listedSan(cert, listed);
  };
}

function listedSan(cert: PeerCertificate, listed: readonly string[]): Error | undefined {
  const sans = sanEntries(cert.subjectaltname);
  if (sans.some((e) => listed.includes(e.value))) return undefined;
  const shown = sans.map((e) => e.value).join(', ') || 'none';
  return identityError(`the server identity (${shown}) is not in subjectAltNames [${listed.join(', ')}]`);
}

function identityError(reason: string): Error {
  const err = new Error(reason) as NodeJS.ErrnoException;
  err.code = 'ERR_TLS_CERT_ALTNAME_INVALID';
  return err;
}

/** Logs an endpoint's TLS failure, the same one at most every `LOG_EVERY_MS` (a dead peer fails every connect). */
function failureLog(upstream: string, mode: string, log: Logger): (endpoint: string, reason: string) => void {
  const last = new Map<string, number>();
  return (endpoint, reason) => {
    const key = `${endpoint} ${reason}`;
    const now = Date.now();
    if ((last.get(key) ?? -Infinity) > now - LOG_EVERY_MS) return;
    if (last.size > 256) last.clear();
    last.set(key, now);
    log.warn({ upstream, endpoint, tls: mode, reason }, 'upstream TLS failure');
  };
}
