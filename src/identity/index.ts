/**
 * The workload's identity (SPEC §12): certificates in cert-manager's layout, SPIFFE IDs, rotation,
 * the inbound TLS terminator and the upstream TLS origination the engines use. Minting (mint.ts,
 * on @peculiar/x509) is not exported here: only `pilotfish certs` and the tests load it.
 */
export { WorkloadIdentity, IdentityLoadError, type IdentityConfig, type IdentityDeps, type CertReloadResult, type TlsCredentials } from './workload-identity.js';
export { checkMaterial, parseCertificates, type IdentityMaterial, type MaterialFiles } from './material.js';
export { parseSpiffeId, checkTrustDomain, uriSans, sanEntries, type SpiffeId } from './spiffe.js';
export { TlsTerminator, type HandshakeFailure, type TerminatorOptions } from './tls-terminator.js';
export { upstreamTls, meshServerCheck, type UpstreamTlsPolicy } from './origination.js';
export { formatXfcc } from './xfcc.js';
