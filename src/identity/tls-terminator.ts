/**
 * The inbound side of mutual TLS: a `tls.Server` that never listens — the listener's sniffer hands
 * it the connections that start with a TLS record — and that hands each accepted connection, now
 * a `TLSSocket` carrying its peer's identity, to the HTTP server behind (`accept`). Keeping TLS out
 * of the HTTP server (linkerd's `linkerd/tls` beside `linkerd/proxy/http`) lets one HTTP server
 * serve plaintext and TLS connections of a permissive port alike.
 *
 * A connection is accepted when the client presented a certificate that chains to the mesh CA,
 * is within its validity, and carries exactly one SPIFFE ID, in our trust domain. The check is
 * ours (`requestCert` without `rejectUnauthorized`): node's own rejection destroys the socket and
 * reports only "socket hang up" (ECONNRESET) — ours logs and counts the real reason
 * (`pilotfish_tls_handshake_errors_total{listener,reason}`). Under TLS 1.3 the client learns of a
 * refusal only as a close after its handshake (LIBRARIES.md): the server side is where the reason is.
 *
 * Rotation: `setSecureContext({ key, cert, ca })` with the new material (options, not a
 * `SecureContext`, which would break every handshake) — new handshakes present the new
 * certificate, open connections keep theirs.
 */
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { PeerIdentity } from '../core/context.js';
import { tls } from '../core/lazy-builtins.js';
import { parseSpiffeId, uriSans } from './spiffe.js';
import { formatXfcc } from './xfcc.js';
import type { WorkloadIdentity } from './workload-identity.js';

/** Why a TLS connection was refused: the bounded vocabulary of the `reason` label. */
export type HandshakeFailure =
  | 'plaintext' | 'no_client_certificate' | 'unknown_ca' | 'expired' | 'not_yet_valid' | 'bad_certificate'
  | 'untrusted_identity' | 'protocol' | 'timeout' | 'aborted';

export interface TerminatorOptions {
  readonly identity: WorkloadIdentity;
  /** The listener's name in logs and metrics (`inbound`). */
  readonly listener: string;
  readonly log: Logger;
  /** Each refused handshake (metrics). */
  readonly onRefused?: (reason: HandshakeFailure) => void;
  /** Longest a TLS handshake may take (ms). Default 10 000. */
  readonly handshakeTimeoutMs?: number;
}

/** A connection of an accepted peer, with its identity; what the HTTP edge reads as `req.peer`. */
type IdentifiedSocket = TLSSocket & { peerIdentity?: PeerIdentity };

export class TlsTerminator {
  readonly server: TlsServer;

  constructor(private readonly options: TerminatorOptions, accept: (socket: TLSSocket) => void) {
    const { identity } = options;
    this.server = tls().createServer({
      ...identity.credentials(),
      requestCert: true,
      rejectUnauthorized: false, // checked in `admit`, which knows why
      // h2 first: a client offering it (an HTTP/2 upstream pool of another sidecar) speaks HTTP/2
      // (SPEC §11); one offering only http/1.1, or no ALPN, speaks HTTP/1.1.
      ALPNProtocols: ['h2', 'http/1.1'],
      handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
    });
    this.server.on('secureConnection', (socket: TLSSocket) => {
      let admitted: boolean;
      try {
        admitted = this.admit(socket);
      } catch (err) {
        // A certificate node parsed but we cannot read: refused, never a crash.
        admitted = this.reject(socket, 'bad_certificate', (err as Error).message);
      }
      if (admitted) accept(socket);
    });
    this.server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      socket.destroy();
      this.refuse(socket, handshakeReason(err), err.code ?? err.message);
    });
    identity.onRotate(() => this.server.setSecureContext({ ...identity.credentials() }));
  }

  /** Hands a socket (its first bytes a TLS record, put back) to the TLS server. */
  take(socket: Socket): void {
    this.server.emit('connection', socket);
  }

  /** A plaintext connection on a port that takes only TLS (`strict`). */
  refusePlaintext(socket: Socket): void {
    this.refuse(socket, 'plaintext', 'a plaintext connection on a port in strict mTLS mode');
  }

  private admit(socket: IdentifiedSocket): boolean {
    const cert = socket.getPeerX509Certificate();
    if (cert === undefined) return this.reject(socket, 'no_client_certificate', 'the client presented no certificate');
    if (!socket.authorized) {
      const code = String(socket.authorizationError ?? 'unknown');
      return this.reject(socket, verifyReason(code), code);
    }
    const trustDomain = this.options.identity.config.trustDomain;
    const ids = uriSans(cert.subjectAltName).filter((u) => u.startsWith('spiffe://'));
    const id = ids.length === 1 ? parseSpiffeId(ids[0]!) : undefined;
    if (id === undefined || typeof id === 'string' || id.trustDomain !== trustDomain) {
      return this.reject(socket, 'untrusted_identity', `the client certificate carries ${ids.length === 1 ? ids[0] : `${ids.length} SPIFFE IDs`}, not one SPIFFE ID in the trust domain ${trustDomain}`);
    }
    socket.peerIdentity = { spiffeId: id.id, namespace: id.namespace, xfcc: formatXfcc(this.options.identity.spiffeId, cert, id.id) };
    return true;
  }

  private reject(socket: TLSSocket, reason: HandshakeFailure, detail: string): false {
    socket.destroy();
    this.refuse(socket, reason, detail);
    return false;
  }

  private refuse(socket: Socket, reason: HandshakeFailure, detail: string): void {
    this.options.onRefused?.(reason);
    this.options.log.warn({ listener: this.options.listener, reason, detail, peer: socket.remoteAddress }, 'TLS connection refused');
  }
}

/** node's verification codes (OpenSSL's X509_V_ERR names) in the label's words. */
function verifyReason(code: string): HandshakeFailure {
  if (code === 'CERT_HAS_EXPIRED') return 'expired';
  if (code === 'CERT_NOT_YET_VALID') return 'not_yet_valid';
  if (/ISSUER|SELF_SIGNED|UNABLE_TO_VERIFY|UNTRUSTED|CERT_CHAIN/.test(code)) return 'unknown_ca';
  return 'bad_certificate';
}

/** A failed handshake's error (`tlsClientError`) in the label's words. */
function handshakeReason(err: NodeJS.ErrnoException): HandshakeFailure {
  const code = err.code ?? '';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'aborted';
  if (/ALERT_UNKNOWN_CA|ALERT_BAD_CERTIFICATE|ALERT_CERTIFICATE/.test(code)) return 'bad_certificate';
  return 'protocol';
}
