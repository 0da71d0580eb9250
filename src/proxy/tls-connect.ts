/**
 * TLS origination for the engines' pools (SPEC §12 upstream `tls`): one connect path that every
 * engine's connector uses, so `mutual` and `simple` behave the same on undici and on node:http.
 *
 * - The context is asked for on each new connection (`secureContext()`): a rotated workload
 *   certificate is used by the next connection, pooled ones carry on with theirs.
 * - SNI is `sni` when set, else the endpoint's host name — and none for an IP address (RFC 6066
 *   forbids it; node:tls warns).
 * - The server's identity is checked by the policy's own function (`checkServerIdentity`):
 *   mesh certificates carry only a URI SAN, which node's host-name check always refuses
 *   (LIBRARIES.md).
 * - TLS sessions are kept per endpoint and resumed (a resumed handshake skips the certificate
 *   exchange and two signatures); a change of credentials (`epoch()`) drops them.
 * - A connection counts as made only once the server has accepted it. Under TLS 1.3 a server that
 *   refuses our client certificate says so only after our side of the handshake is done, by
 *   closing — the client sees `secureConnect`, then a close (LIBRARIES.md). So a `mutual`
 *   connection waits, after a full handshake, for the server's first session ticket (a server
 *   that accepted us sends one at once) or that close, up to `TICKET_GRACE_MS`: a refusal then
 *   fails the connect with its reason (503 `UF`) instead of resetting the first request (`UC`,
 *   which a POST could not tell from a request that reached the upstream).
 * - Every failure before the connection is made is an error with code `UPSTREAM_TLS_FAILURE` and
 *   a reason in words (`isConnectError` knows it: the request never left).
 */
import net from 'node:net';
import type { PeerCertificate, SecureContext, TLSSocket } from 'node:tls';
import { TLS_FAILURE } from '../core/errors.js';
import { tls } from '../core/lazy-builtins.js';

/** How an upstream's connections are secured: built by the identity module from the policy's `tls`. */
export interface UpstreamTls {
  readonly mode: 'mutual' | 'simple';
  /** SNI to send; default the endpoint's host name unless it is an IP address. */
  readonly sni: string | undefined;
  /** The context for a new connection (the current workload certificate and CA, or the roots). */
  secureContext(): SecureContext;
  /** Checks the server certificate's identity; an Error (its message the reason) refuses it. */
  checkServerIdentity(host: string, cert: PeerCertificate): Error | undefined;
  /** Changes when the credentials change: sessions resumed from before are dropped. */
  epoch(): number;
  /** A TLS failure making a connection to `endpoint` (host:port), for the operational log. */
  onFailure?(endpoint: string, reason: string): void;
}

export { TLS_FAILURE };
/** Longest a `mutual` connection waits after its handshake for the server's verdict (ms). */
export const TICKET_GRACE_MS = 250;

/** Resumable sessions, one per endpoint (the most recent ticket). */
export class SessionCache {
  private readonly sessions = new Map<string, Buffer>();
  private epoch = -1;

  get(key: string, epoch: number): Buffer | undefined {
    if (epoch !== this.epoch) { this.sessions.clear(); this.epoch = epoch; return undefined; }
    return this.sessions.get(key);
  }

  set(key: string, epoch: number, session: Buffer): void {
    if (epoch === this.epoch) this.sessions.set(key, session);
  }

  delete(key: string): void {
    this.sessions.delete(key);
  }
}

export interface TlsConnectTarget {
  readonly host: string;
  readonly port: number;
  /** The ALPN protocols offered; default `['http/1.1']` (the HTTP/2 pool offers `['h2']`). */
  readonly alpn?: readonly string[] | undefined;
}

/**
 * Connects to `target` over TLS; `cb` gets the socket once the server has accepted it, or the
 * failure. `timeoutMs` (0: none) bounds the TCP connect and the handshake together. Returns the
 * socket at once so a caller can abort the connect by destroying it.
 */
export function connectTls(config: UpstreamTls, sessions: SessionCache, target: TlsConnectTarget, timeoutMs: number, cb: (err: Error | null, socket: TLSSocket | null) => void): TLSSocket {
  const key = `${target.host}:${target.port}`;
  const epoch = config.epoch();
  const servername = config.sni ?? (net.isIP(target.host) === 0 ? target.host : undefined);
  const session = sessions.get(key, epoch);
  const socket = tls().connect({
    host: target.host, port: target.port,
    secureContext: config.secureContext(),
    ...(servername === undefined ? {} : { servername }),
    ...(session === undefined ? {} : { session }),
    ALPNProtocols: target.alpn === undefined ? ['http/1.1'] : [...target.alpn],
    checkServerIdentity: (host, cert) => config.checkServerIdentity(servername ?? host, cert),
  });
  let done = false;
  let secured = false;
  let timer: NodeJS.Timeout | undefined;
  let grace: NodeJS.Timeout | undefined;
  const finish = (err: Error | null): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    clearTimeout(grace);
    socket.off('error', onError);
    socket.off('close', onClose);
    socket.off('session', onSession);
    if (err === null) {
      // From here the HTTP client owns the socket's errors; one arriving before it has listened is dropped, never thrown.
      socket.on('error', noop);
      cb(null, socket);
      return;
    }
    sessions.delete(key);
    if ((err as NodeJS.ErrnoException).code === TLS_FAILURE) config.onFailure?.(key, err.message);
    socket.destroy();
    cb(err, null);
  };
  const onError = (err: Error): void => finish(socket.connecting ? err : tlsFailure(describeTlsError(err), err));
  const onClose = (): void => finish(tlsFailure(secured && config.mode === 'mutual'
    ? 'the server closed the connection after the handshake: it refused our client certificate (not issued by its CA, expired, or a foreign identity)'
    : 'the server closed the connection during the TLS handshake'));
  // Not from inside the 'session' event: it is emitted from within OpenSSL's read, and a request
  // written there (synchronously, or on the same tick) is never sent (seen on Node 24.21).
  const onSession = (s: Buffer): void => { sessions.set(key, epoch, s); setImmediate(finish, null); };
  // Tickets after the verdict (two per full handshake) refresh the cached session.
  socket.on('session', (s: Buffer) => sessions.set(key, epoch, s));
  socket.on('error', onError);
  socket.once('close', onClose);
  socket.once('secureConnect', () => {
    secured = true;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    // A resumed session was accepted with our certificate before; only a full handshake waits.
    if (config.mode !== 'mutual' || socket.isSessionReused() || socket.getProtocol() !== 'TLSv1.3') { finish(null); return; }
    socket.once('session', onSession);
    grace = setTimeout(() => finish(null), TICKET_GRACE_MS);
  });
  if (timeoutMs > 0) {
    timer = setTimeout(() => {
      const err = new Error(`connect timed out after ${timeoutMs}ms${socket.connecting ? '' : ' (in the TLS handshake)'}`) as NodeJS.ErrnoException;
      err.code = 'ECONNECT_TIMEOUT';
      finish(err);
    }, timeoutMs);
  }
  return socket;
}

function noop(): void {}

/** An error the attempt classifies as a connect failure (UF), its message the reason. */
export function tlsFailure(reason: string, cause?: Error): Error {
  const err = new Error(`TLS: ${reason}`, cause === undefined ? undefined : { cause }) as NodeJS.ErrnoException;
  err.code = TLS_FAILURE;
  return err;
}

/** The reason in words for a TLS error from node:tls / OpenSSL. */
export function describeTlsError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const known = CERT_ERRORS[code];
  if (known !== undefined) return `${known} (${code})`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `server identity: ${err.message.replace(/^Hostname\/IP does not match certificate's altnames: /, '')}`;
  // OpenSSL's own text ends in a source location; the reason is the part after the routine name.
  const m = /:SSL routines:[^:]*:([^:]+)/.exec(err.message);
  return m ? `${m[1]} (${code || 'TLS'})` : `${err.message} (${code || 'TLS'})`;
}

const CERT_ERRORS: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server certificate is not issued by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the server certificate is not issued by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT: 'the server certificate is not issued by a trusted CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'the server certificate chains to an untrusted CA',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed and not trusted',
  CERT_HAS_EXPIRED: 'the server certificate has expired',
  CERT_NOT_YET_VALID: 'the server certificate is not yet valid',
  CERT_SIGNATURE_FAILURE: 'the server certificate signature does not verify',
};
