/**
 * The inbound listener in an mTLS mode (SPEC §12 `listeners.inbound.tls`): one listening
 * `net.Server` that sniffs each connection (sniff.ts) and hands it on —
 * - a TLS record → the TLS terminator (identity/tls-terminator.ts), which checks the peer and
 *   hands the `TLSSocket` to the HTTP server;
 * - anything else → the HTTP server directly in `permissive` mode; refused (and counted,
 *   `reason="plaintext"`) in `strict`.
 * The HTTP server behind never listens, so this front starts its connection tracking (the
 * `headersTimeout`/`requestTimeout` checker and the list `closeIdleConnections` walks) by telling
 * it it is listening, and stops it on close. Every connection is tracked here too (the HTTP
 * server knows only those handed to it), so `closeAllConnections` also reaches one still being
 * sniffed or in its handshake.
 */
import net, { type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { handOver, sniff, type SniffedProtocol } from './sniff.js';

/** What the composition root needs of a data-plane listener; an `http.Server` is one. */
export interface EdgeServer extends net.Server {
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

export interface TlsFrontOptions {
  readonly mode: 'strict' | 'permissive';
  /** Hands a TLS connection to the terminator. */
  readonly tls: (socket: Socket) => void;
  /** A plaintext connection refused in `strict` mode (for its log line and count). */
  readonly onPlaintext: (socket: Socket) => void;
  /** Longest a new connection may stay silent before its protocol is known (ms). Default 10 000. */
  readonly sniffTimeoutMs?: number;
}

const ONLY_TLS: ReadonlySet<SniffedProtocol> = new Set(['tls']);

export class TlsFront extends net.Server implements EdgeServer {
  /** Every open connection of this listener. */
  private readonly sockets = new Set<Socket>();

  constructor(private readonly http: HttpServer, options: TlsFrontOptions) {
    super({ noDelay: true });
    this.on('connection', (socket: Socket) => {
      this.track(socket);
      sniff(socket, {
        timeoutMs: options.sniffTimeoutMs ?? 10_000,
        ...(options.mode === 'strict' ? { accept: ONLY_TLS } : {}),
        onReject: (s, reason) => { if (reason === 'refused') options.onPlaintext(s); },
      }, (protocol, s) => {
        if (protocol === 'tls') options.tls(s);
        else handOver(http, s, 'http1');
      });
    });
    this.on('listening', () => http.emit('listening'));
    this.on('close', () => http.close());
  }

  /** An accepted TLS connection (its peer checked) goes to the HTTP server. */
  serve(socket: TLSSocket): void {
    this.http.emit('connection', socket);
  }

  closeIdleConnections(): void {
    this.http.closeIdleConnections();
  }

  closeAllConnections(): void {
    for (const s of this.sockets) s.destroy();
    this.http.closeAllConnections();
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }
}
