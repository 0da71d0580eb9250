/**
 * An upstream's HTTP/2 connections (SPEC §11 `protocol: http2`): per endpoint, a few multiplexed
 * node:http2 client sessions (cleartext, prior knowledge). A request goes on the open session with
 * the fewest streams while that is under the peer's `maxConcurrentStreams`; when every session is
 * full a new one is opened, up to `maxConnections` sessions per endpoint — beyond that the least
 * loaded takes it (nghttp2 queues streams past the peer's limit). Admission (`maxConnections` in
 * flight, the pending queue, 503 `UO`) stays above, in the resilience module's pool.
 *
 * A session that received GOAWAY, failed, or was closed takes no new stream and leaves the pool;
 * its streams in flight finish. An idle session (no stream) closes after `idleTimeoutMs`. The
 * connect is ours (`net.connect`), bounded by `connectTimeoutMs` like every engine's; with TLS
 * origination (the upstream's `tls`) it is the one TLS connect path of every engine
 * (tls-connect.ts). An explicit `protocol: http2` offers ALPN `h2` only — a server that does not
 * choose it fails the connect (UF). A `downstream` upstream offers `h2` then `http/1.1`: the
 * endpoint's first connection learns which it speaks (`negotiate`), and one that chose `http/1.1`
 * (or no ALPN at all) is remembered as such — its HTTP/2 clients' requests go over HTTP/1.1
 * (protocol-engine.ts), as Envoy's `auto_config` does.
 */
import type { ClientHttp2Session } from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { TLS_FAILURE } from '../core/errors.js';
import { http2 } from '../core/lazy-builtins.js';
import { unbracket, type ConnectionOptions, type UpstreamConnections } from './engine.js';
import { connectTls, SessionCache } from './tls-connect.js';

/** One client session and what the pool knows of it. */
export interface Session {
  readonly session: ClientHttp2Session;
  readonly pool: EndpointSessions;
  /** Streams open on it. */
  active: number;
  /** Streams it has carried to an answer: > 0 means it served before (the replay rule). */
  served: number;
  /** No new stream: GOAWAY received, failed, closing. */
  gone: boolean;
}

const H2_ONLY = ['h2'];
const H2_OR_H1 = ['h2', 'http/1.1'];

/**
 * A TLS upstream that would not speak HTTP/2: for `protocol: http2` a connect failure, with the
 * reason; for `downstream`, the end of this session (the endpoint is spoken to in HTTP/1.1).
 */
function noH2(fallback: boolean): Error {
  const err = new Error(fallback
    ? 'the upstream chose HTTP/1.1 by ALPN: its requests go over HTTP/1.1'
    : 'the upstream did not negotiate HTTP/2 (ALPN h2) over TLS; protocol: http2 offers only h2 (protocol: downstream falls back to HTTP/1.1)') as NodeJS.ErrnoException;
  err.code = TLS_FAILURE;
  return err;
}

function noop(): void {}

/** The connect timeout error, classified as a connect failure (UF) like every engine's. */
function connectTimeout(ms: number): Error {
  const err = new Error(`connect timeout after ${ms}ms`) as NodeJS.ErrnoException;
  err.code = 'ECONNECT_TIMEOUT';
  return err;
}

/** What an endpoint of a TLS upstream chose by ALPN. */
export type Negotiated = 'h2' | 'http/1.1';

export class EndpointSessions {
  private readonly sessions: Session[] = [];
  private disposed = false;
  /**
   * A `downstream` TLS upstream's endpoint: the protocol it chose by ALPN once one connection has
   * told (kept while the upstream's connections live); undefined before. Else always undefined.
   */
  negotiated: Negotiated | undefined;
  /** The first connection's handshake, while it runs (`negotiate`). */
  private probing: Promise<Negotiated> | undefined;
  /**
   * The endpoint's last announced SETTINGS_MAX_CONCURRENT_STREAMS: what a session still connecting
   * is assumed to allow (a burst would otherwise pile onto it before its SETTINGS arrive). Before
   * any is known, 100 (RFC 9113's recommended minimum).
   */
  private peerMaxStreams = 100;

  constructor(private readonly target: URL, private readonly options: ConnectionOptions, private readonly tlsSessions: SessionCache | undefined) {}

  /** A session for one more stream (the caller counts it in `active` and calls `release`). */
  acquire(): Session {
    let best: Session | undefined;
    for (const s of this.sessions) {
      if (s.gone || s.session.closed || s.session.destroyed) continue;
      if (best === undefined || s.active < best.active) best = s;
    }
    const max = best?.session.remoteSettings.maxConcurrentStreams ?? this.peerMaxStreams;
    if (best !== undefined && (best.active < max || this.open() >= (this.options.maxConnections ?? 1024))) return best;
    return this.connect();
  }

  /**
   * A `downstream` TLS endpoint's protocol: resolves once a connection's handshake has said it
   * (connecting one if none is under way), rejects with that connection's failure. A session that
   * chose `h2` stays in the pool for the request that asked; one that chose `http/1.1` is closed.
   */
  negotiate(): Promise<Negotiated> {
    if (this.negotiated !== undefined) return Promise.resolve(this.negotiated);
    if (this.probing === undefined) this.connect();
    return this.probing!;
  }

  release(s: Session): void {
    s.active--;
    if ((this.disposed || s.gone) && s.active === 0 && !s.session.closed) s.session.close();
  }

  /** Takes `s` out of the pool (GOAWAY, an error, closed): no new stream goes on it. */
  retire(s: Session): void {
    s.gone = true;
    const i = this.sessions.indexOf(s);
    if (i >= 0) this.sessions.splice(i, 1);
  }

  describe(): { active: number; idle: number } {
    let active = 0;
    let idle = 0;
    for (const s of this.sessions) if (s.active > 0) active++; else idle++;
    return { active, idle };
  }

  dispose(): void {
    this.disposed = true;
    // Graceful: streams in flight finish, then each session closes.
    for (const s of [...this.sessions]) {
      this.retire(s);
      s.session.close();
    }
  }

  private plainSocket(host: string, port: number): net.Socket {
    const { connectTimeoutMs } = this.options;
    const socket = net.connect({ host, port, noDelay: true });
    const timer = setTimeout(() => socket.destroy(connectTimeout(connectTimeoutMs)), connectTimeoutMs);
    socket.once('connect', () => clearTimeout(timer));
    socket.once('close', () => clearTimeout(timer));
    return socket;
  }

  private open(): number {
    return this.sessions.length;
  }

  private connect(): Session {
    const { target, options } = this;
    const port = Number(target.port) || 80;
    const host = unbracket(target.hostname);
    let failed: ((err: Error) => void) | undefined;
    const fallback = options.tls !== undefined && (options.protocol ?? 'downstream') === 'downstream';
    let settle: ((err: Error | null, p: Negotiated) => void) | undefined;
    if (fallback && this.negotiated === undefined && this.probing === undefined) {
      const probing = (this.probing = new Promise<Negotiated>((resolve, reject) => {
        settle = (err, p) => {
          this.probing = undefined;
          if (err !== null) { reject(err); return; }
          this.negotiated = p;
          resolve(p);
        };
      }));
      probing.catch(noop); // the caller of negotiate() sees it; a session connected by acquire() may not have one
    }
    const socket = options.tls === undefined ? this.plainSocket(host, port) : connectTls(options.tls, this.tlsSessions!, { host, port, alpn: fallback ? H2_OR_H1 : H2_ONLY }, options.connectTimeoutMs, (err, s) => {
      // The TLS connect path says when the server accepted us (or why not): a refusal fails the
      // session with its reason, so its waiting streams fail as connect failures (UF) that say why.
      // No ALPN at all (a server that never heard of it) is HTTP/1.1 too.
      if (err === null && s !== null && s.alpnProtocol !== 'h2') {
        if (fallback) this.negotiated = 'http/1.1'; // also when an endpoint that spoke h2 no longer does
        settle?.(null, 'http/1.1');
        err = noH2(fallback);
      } else settle?.(err, 'h2');
      if (err !== null) failed?.(err);
    });
    const session = http2().connect(`${options.tls === undefined ? 'http' : 'https'}://${target.host}`, { createConnection: () => socket as Duplex });
    failed = (err) => { session.destroy(err); if (!socket.destroyed) socket.destroy(); };
    const entry: Session = { session, pool: this, active: 0, served: 0, gone: false };
    session.on('error', () => this.retire(entry)); // each stream sees the error too
    session.on('goaway', () => this.retire(entry));
    session.on('remoteSettings', (settings) => { if (settings.maxConcurrentStreams !== undefined) this.peerMaxStreams = settings.maxConcurrentStreams; });
    session.once('close', () => this.retire(entry));
    // Idle for idleTimeoutMs with no stream: close it (a quiet stream in flight keeps it open).
    session.setTimeout(options.idleTimeoutMs, () => { if (entry.active === 0) { this.retire(entry); session.close(); } });
    this.sessions.push(entry);
    return entry;
  }
}

export class Http2Connections implements UpstreamConnections {
  private readonly endpoints = new Map<string, EndpointSessions>();
  private byUrl = new WeakMap<URL, EndpointSessions>();
  /** TLS sessions resumed per endpoint, for a TLS upstream. */
  private readonly tlsSessions: SessionCache | undefined;

  constructor(private readonly options: ConnectionOptions) {
    this.tlsSessions = options.tls === undefined ? undefined : new SessionCache();
  }

  /**
   * The endpoint's sessions. By the target's identity first: an endpoint's URL is one object for
   * its life, and `URL.host` builds a new string at every read.
   */
  endpoint(target: URL): EndpointSessions {
    let pool = this.byUrl.get(target);
    if (pool !== undefined) return pool;
    const key = target.host;
    pool = this.endpoints.get(key);
    if (pool === undefined) this.endpoints.set(key, (pool = new EndpointSessions(target, this.options, this.tlsSessions)));
    this.byUrl.set(target, pool);
    return pool;
  }

  describe(): { active: number; idle: number } {
    let active = 0;
    let idle = 0;
    for (const p of this.endpoints.values()) {
      const d = p.describe();
      active += d.active;
      idle += d.idle;
    }
    return { active, idle };
  }

  dispose(): void {
    for (const p of this.endpoints.values()) p.dispose();
    this.endpoints.clear();
    this.byUrl = new WeakMap();
  }
}
