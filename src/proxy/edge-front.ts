/**
 * One data-plane port, several protocols (SPEC §11, §12): the listening `net.Server` of the outbound
 * and inbound listeners sniffs each new connection (sniff.ts) and hands it to the server for its
 * protocol —
 * - HTTP/1.x to the node:http server;
 * - the HTTP/2 preface (h2c with prior knowledge) to the node:http2 server of the HTTP/2 edge
 *   (http2-edge.ts), made on the first h2c connection;
 * - a TLS record, with inbound mTLS (`tls`), to the TLS terminator (identity/tls-terminator.ts),
 *   which checks the peer and hands the `TLSSocket` back (`serve`) to the HTTP/2 edge when ALPN
 *   chose `h2`, else to the HTTP server; without `tls`, it is refused. In `strict` mode only TLS
 *   is accepted (plaintext refused and counted).
 *
 * `maxConnections` is this server's (it accepts). Neither server behind listens itself, so this front starts the HTTP/1 server's connection
 * tracking (its `headersTimeout` checker and the list `closeIdleConnections` walks) by telling it
 * it is listening, and every socket is tracked here too, so `closeAllConnections` also reaches one
 * still being sniffed or held by an HTTP/2 session.
 */
import net, { type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { Http2Server, Http2Session } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { handOver, sniff, type SniffedProtocol } from './sniff.js';

/** What the composition root needs of a data-plane listener; an `http.Server` is one. */
export interface EdgeServer extends net.Server {
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

export interface EdgeFrontOptions {
  /** Makes the HTTP/2 server (called once, on the first h2c connection). */
  readonly http2: () => Http2Server;
  /** Longest a new connection may stay silent before its protocol is known (ms). Default 10 000. */
  readonly sniffTimeoutMs?: number;
  /**
   * Open downstream connections at most (`listeners.*.maxConnections`): enforced here, where
   * connections are accepted — a socket handed to a server by code is not counted (limits.ts).
   */
  readonly maxConnections?: number | undefined;
  /** A connection over `maxConnections` was closed at once (for its count). */
  readonly onDrop?: (() => void) | undefined;
  /** Inbound mutual TLS: where TLS connections go, and what `strict` does with plaintext ones. */
  readonly tls?: FrontTls | undefined;
}

export interface FrontTls {
  readonly mode: 'strict' | 'permissive';
  /** Hands a TLS connection to the terminator. */
  readonly take: (socket: Socket) => void;
  /** A plaintext connection refused in `strict` mode (for its log line and count). */
  readonly onPlaintext: (socket: Socket) => void;
}

const PLAINTEXT: ReadonlySet<SniffedProtocol> = new Set(['http1', 'h2c']);
const ONLY_TLS: ReadonlySet<SniffedProtocol> = new Set(['tls']);
const ANY: ReadonlySet<SniffedProtocol> = new Set(['http1', 'h2c', 'tls']);

export class EdgeFront extends net.Server implements EdgeServer {
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<Http2Session>();
  private h2: Http2Server | undefined;

  constructor(private readonly http: HttpServer, private readonly options: EdgeFrontOptions) {
    super({ noDelay: true });
    if (options.maxConnections !== undefined) this.maxConnections = options.maxConnections;
    if (options.onDrop) this.on('drop', options.onDrop);
    const tls = options.tls;
    const sniffOptions = {
      timeoutMs: options.sniffTimeoutMs ?? 10_000,
      accept: tls === undefined ? PLAINTEXT : tls.mode === 'strict' ? ONLY_TLS : ANY,
      ...(tls === undefined ? {} : { onReject: (s: Socket, reason: 'timeout' | 'refused') => { if (reason === 'refused') tls.onPlaintext(s); } }),
    };
    this.on('connection', (socket: Socket) => {
      this.track(socket);
      sniff(socket, sniffOptions, (protocol, s) => {
        if (protocol === 'tls') tls?.take(s);
        else if (protocol === 'h2c') handOver(this.http2(), s, 'h2c');
        else handOver(http, s, 'http1');
      });
    });
    this.on('listening', () => http.emit('listening'));
    this.on('close', () => { http.close(); this.h2?.close(); });
  }

  /**
   * An accepted TLS connection (its peer checked) goes to the server for the protocol it
   * negotiated: ALPN `h2` to the HTTP/2 edge, anything else to the HTTP/1.1 server.
   */
  serve(socket: TLSSocket): void {
    if (socket.alpnProtocol === 'h2') this.http2().emit('connection', socket);
    else this.http.emit('connection', socket);
  }

  /**
   * Idle HTTP/1 connections close; every HTTP/2 session is told to go away (GOAWAY): its streams in
   * flight finish, no new one starts — the drain of SPEC §5 for multiplexed connections.
   */
  closeIdleConnections(): void {
    this.http.closeIdleConnections();
    for (const s of this.sessions) if (!s.closed) s.close();
  }

  closeAllConnections(): void {
    for (const s of this.sessions) s.destroy();
    for (const s of this.sockets) s.destroy();
    this.http.closeAllConnections();
  }

  private http2(): Http2Server {
    if (this.h2 !== undefined) return this.h2;
    const h2 = (this.h2 = this.options.http2());
    h2.on('session', (session: Http2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
    });
    return h2;
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }
}
