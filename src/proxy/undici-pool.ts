/**
 * An upstream's connections for the undici engine: per endpoint, a LIFO stack of idle connections,
 * each one undici `Client` (one socket, HTTP/1.1, no pipelining) carrying one request at a time.
 *
 * Why not undici's `Pool`: the engine must know which connection a request went out on — whether it
 * had served before (the one replay of an idempotent request on a stale pooled connection), and to
 * cancel a request still waiting for its connection (undici's `Pool` offers neither through
 * `dispatch`); and `Pool` looks for a free client by scanning its list on every request, where
 * popping a stack is O(1). undici still does what it does best: the HTTP/1.1 codec, keep-alive
 * (closing a connection idle for `idleTimeoutMs`, or sooner if the upstream's `Keep-Alive` says so),
 * checking an idle socket for a pending FIN/RST before reusing it. The connector is ours: a precise
 * connect timeout (undici rounds sub-second timers up to ~1 s), and TLS origination (tls-connect.ts:
 * the upstream's `tls`, sessions resumed per endpoint) when the upstream has it.
 */
import net from 'node:net';
import type { Client } from 'undici';
import ClientClass from 'undici/lib/dispatcher/client.js';
import undiciSymbols from 'undici/lib/core/symbols.js';
import { unbracket, type ConnectionOptions, type UpstreamConnections } from './engine.js';
import { connectTls, SessionCache, type UpstreamTls } from './tls-connect.js';

type Connector = NonNullable<Client.Options['connect']> & ((opts: { hostname: string; port: string }, cb: (err: Error | null, socket: net.Socket | null) => void) => unknown);

export class UndiciConnections implements UpstreamConnections {
  private readonly endpoints = new Map<string, EndpointPool>();
  readonly clientOptions: Client.Options;
  disposed = false;

  constructor(options: ConnectionOptions) {
    this.clientOptions = {
      connect: options.tls === undefined ? connector(options.connectTimeoutMs) : tlsConnector(options.connectTimeoutMs, options.tls, new SessionCache()),
      // Our idle timeout is the cap: an upstream's `Keep-Alive: timeout=N` may only shorten it.
      keepAliveTimeout: options.idleTimeoutMs,
      keepAliveMaxTimeout: options.idleTimeoutMs,
      // The engine's own per-try timer bounds the wait for headers (undici rounds sub-second ones up).
      headersTimeout: 0,
      pipelining: 1,
    };
  }

  /** The pool of one endpoint (`host:port`), made on first use. */
  endpoint(address: string, target: URL): EndpointPool {
    let pool = this.endpoints.get(address);
    if (pool === undefined) this.endpoints.set(address, (pool = new EndpointPool(this, address, target.origin)));
    return pool;
  }

  /**
   * Cluster warming (docs/data-plane.md): `perEndpoint` connections started to each target that has
   * none, open or opening. A failed one is dropped, and the first request makes its own connection
   * as it would have.
   */
  warm(targets: readonly URL[], perEndpoint: number): void {
    for (const target of targets) this.endpoint(endpointKey(target), target).warm(perEndpoint);
  }

  /** An endpoint pool with nothing open leaves the map (passthrough traffic names any host). */
  forget(pool: EndpointPool): void {
    if (this.endpoints.get(pool.address) === pool) this.endpoints.delete(pool.address);
  }

  describe(): { active: number; idle: number } {
    let active = 0;
    let idle = 0;
    for (const pool of this.endpoints.values()) { active += pool.busy; idle += pool.idleCount; }
    return { active, idle };
  }

  dispose(): void {
    this.disposed = true;
    for (const pool of this.endpoints.values()) pool.closeIdle();
  }
}

export class EndpointPool {
  private readonly idle: Connection[] = [];
  busy = 0;

  constructor(readonly owner: UndiciConnections, readonly address: string, readonly origin: string) {}

  get idleCount(): number { return this.idle.length; }

  /** An idle connection (the most recently used: the warmest), else a new one. */
  acquire(): Connection {
    this.busy++;
    return this.idle.pop() ?? new Connection(this);
  }

  /**
   * With no connection at all (none busy, none idle), starts `count` and stacks them as idle: a
   * request that takes one before it has connected waits for that connect, as on a new one.
   */
  warm(count: number): void {
    if (this.busy > 0 || this.idle.length > 0) return;
    for (let i = 0; i < count; i++) {
      const conn = new Connection(this);
      this.idle.push(conn);
      conn.open();
    }
  }

  /** The request on `conn` is over. A connection still open goes back to the stack. */
  release(conn: Connection): void {
    this.busy--;
    if (conn.connected && !conn.broken && !this.owner.disposed) this.idle.push(conn);
    else this.drop(conn);
  }

  /** An idle connection whose socket closed (idle timeout, the upstream closed it), or whose warming connect failed. */
  closed(conn: Connection): void {
    const i = this.idle.indexOf(conn);
    if (i < 0) return;
    this.idle.splice(i, 1);
    this.drop(conn);
  }

  closeIdle(): void {
    for (const conn of this.idle.splice(0)) conn.client.close().catch(noop);
    this.prune();
  }

  private drop(conn: Connection): void {
    conn.client.close().catch(noop);
    this.prune();
  }

  private prune(): void {
    if (this.busy === 0 && this.idle.length === 0) this.owner.forget(this);
  }
}

/** One connection: an undici `Client`, and what the engine tracks about its current socket. */
export class Connection {
  readonly client: Client;
  connected = false;
  /** Responses completed on the current socket: > 0 means a request on it is a reuse. */
  served = 0;
  /** Cancelled mid-request or destroyed: never pooled again. */
  broken = false;

  constructor(readonly pool: EndpointPool) {
    const client = new ClientClass(pool.origin, pool.owner.clientOptions);
    client.on('connect', () => { this.connected = true; this.served = 0; });
    client.on('disconnect', () => { this.connected = false; pool.closed(this); });
    client.on('connectionError', noop); // the request that waited gets the error through its handler
    // undici emits 'error' when a handler hook throws (a bug of ours): say so, never crash or hide it.
    (client as unknown as NodeJS.EventEmitter).on('error', (err: Error) => process.emitWarning(err));
    this.client = client;
  }

  /**
   * Connects now, with no request (undici's own explicit connect, `Client[kConnect]`). One that
   * fails leaves the idle stack and is closed; a request that took it meanwhile gets the error
   * through its handler, as on any new connection.
   */
  open(): void {
    const client = this.client as unknown as NodeJS.EventEmitter & Record<symbol, (cb: () => void) => void>;
    const failed = (): void => { client.off('connect', connected); this.pool.closed(this); };
    const connected = (): void => { client.off('connectionError', failed); };
    client.once('connectionError', failed);
    client[undiciSymbols.kConnect]!(connected);
  }
}

/** A plain TCP connect bounded by `timeoutMs` (0: unbounded), with Nagle off and TCP keep-alive on. */
function connector(timeoutMs: number): Connector {
  return ((opts: { hostname: string; port: string }, cb: (err: Error | null, socket: net.Socket | null) => void) => {
    const socket = net.connect({ host: opts.hostname, port: Number(opts.port) || 80, noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 });
    let timer: NodeJS.Timeout | undefined;
    const onError = (err: Error): void => { clearTimeout(timer); cb(err, null); };
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        const err = new Error(`connect timed out after ${timeoutMs}ms`) as NodeJS.ErrnoException;
        err.code = 'ECONNECT_TIMEOUT';
        socket.destroy(err);
      }, timeoutMs);
    }
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      cb(null, socket);
    });
    return socket; // undici can cancel a connect no request waits for any more
  }) as Connector;
}

/** TLS origination on a new connection: the socket goes to undici once the server accepted it. */
function tlsConnector(timeoutMs: number, config: UpstreamTls, sessions: SessionCache): Connector {
  return ((opts: { hostname: string; port: string }, cb: (err: Error | null, socket: net.Socket | null) => void) =>
    connectTls(config, sessions, { host: unbracket(opts.hostname), port: Number(opts.port) || 80 }, timeoutMs, cb)) as Connector;
}

/** `host:port` of a target: the key of its endpoint pool (the engine's, undici-engine.ts). */
export function endpointKey(target: URL): string {
  return target.host;
}

function noop(): void {}
