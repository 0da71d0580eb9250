/**
 * The forwarding engine on undici's dispatcher API (`Client.dispatch` with the handler hooks
 * `onRequestStart` … `onResponseError`), on connections this engine pools itself (undici-pool.ts).
 * The contract every engine keeps:
 * - headers cleaned by the edge; undici refuses `transfer-encoding` (it frames a streamed body
 *   itself), so a chunked request's headers go without it;
 * - our own per-attempt timer (undici's round sub-second timers up), and a connect timeout on new
 *   connections only (the connector's);
 * - a client that leaves cancels the upstream request: aborted through its controller once it is
 *   on a connection, or by closing the connection it is still waiting for;
 * - one replay of an idempotent request when a pooled connection that had served before fails
 *   before any answer;
 * - errors classified UF / UC / UT / DC;
 * - a chunked answer's trailers ride on its body (trailers.ts);
 * - back-pressure both ways: a request body streams with undici's own flow control, and the
 *   response body is a `Readable` whose consumer paces the upstream (`pause()` when the buffer is
 *   full, `resume()` on read) — or a Buffer, when the whole answer (with no trailers) came in the read that brought
 *   its head.
 * WebSocket upgrades go through http-proxy-3 (loaded on the first one).
 */
import type http from 'node:http';
import { Readable, type Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import undiciConstants from 'undici/lib/core/constants.js';
import undiciUtil from 'undici/lib/core/util.js';
import type { ProxyRequest, ProxyResponse } from '../core/context.js';
import { PooledCall } from './attempt-call.js';
import { bodiless, type Attempt, type ConnectionOptions, type ForwardingEngine } from './engine.js';
import { RELAY, type DirectBody, type RelaySink } from './relay.js';
import { trailersArrived } from './trailers.js';
import { endpointKey, UndiciConnections, type Connection } from './undici-pool.js';
import { LazyUpgrader } from './ws-upgrade.js';
import { XFCC } from '../core/context.js';

/**
 * The request headers the sidecar adds itself, entered (already lower-case) in undici's table of
 * known header names. undici checks every request header name against that table; a name it does
 * not know is lower-cased, looked up again and validated with a regular expression — per header, per
 * request, ~500 instructions for each of these four to six (callgrind). The entry is what that
 * check would conclude (a valid token whose lower-case form is itself), so nothing else changes.
 */
const SIDECAR_REQUEST_HEADERS = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', XFCC, 'traceparent', 'tracestate'];
for (const name of SIDECAR_REQUEST_HEADERS) undiciConstants.headerNameLowerCasedRecord[name] ??= name;

export class UndiciEngine implements ForwardingEngine {
  private readonly ws = new LazyUpgrader();

  connections(_upstream: string, options: ConnectionOptions): UndiciConnections {
    return new UndiciConnections(options);
  }

  forward(req: ProxyRequest, attempt: Attempt): Promise<ProxyResponse> {
    return new Promise((resolve, reject) => new UndiciCall(req, attempt, false, resolve, reject).send());
  }

  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, target: URL, onError: (err: Error) => void): void {
    this.ws.upgrade(req, socket, head, target, onError);
  }

  close(): void {
    this.ws.close();
  }
}

/** One attempt as one dispatch on one pooled connection; also its dispatch handler. */
class UndiciCall extends PooledCall implements Dispatcher.DispatchHandler {
  private conn: Connection | undefined;
  private controller: Dispatcher.DispatchController | null = null;
  private body: UpstreamBody | undefined;
  /**
   * Between the answer's head and its delivery (a microtask later): the head, the chunks so far,
   * and whether the upstream already sent all of it. See `onResponseStart`.
   */
  private head: { status: number; headers: http.IncomingHttpHeaders } | undefined;
  private chunks: Buffer[] | undefined;
  private chunkBytes = 0;
  private complete = false;
  /** A complete answer's trailer section, when it had one: it then goes on as a stream that carries them. */
  private trailers: http.IncomingHttpHeaders | undefined;

  send(): void {
    const { req, attempt } = this;
    if (req.downstreamGone) { this.onClientGone(); return; }
    const headers = req.headers;
    headers.host = req.host;
    const connections = attempt.connections as UndiciConnections;
    const conn = (this.conn = connections.endpoint(endpointKey(attempt.target), attempt.target).acquire());
    req.onDownstreamClose(this.clientGone);
    conn.client.dispatch({
      path: req.path,
      method: req.method as Dispatcher.HttpMethod,
      headers: headers['transfer-encoding'] === undefined ? headers : withoutTransferEncoding(headers),
      body: req.body ?? req.bodyStream ?? (bodiless(req) ? null : req.source),
      servername: serverName(req.host), // undici reads it; its types leave it out
    } as Dispatcher.DispatchOptions, this);
  }

  // --- dispatch handler hooks (undici calls them; `this` is the call) ---

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.reused = this.conn!.served > 0;
    // Settled while waiting for the connection (timer, client gone): stop it now it started.
    if (this.settled) controller.abort(new Error('attempt already over'));
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: http.IncomingHttpHeaders): void {
    if (status < 200) return; // 1xx (103 Early Hints): the final answer follows
    if (!this.settle()) { controller.abort(new Error('attempt already over')); return; }
    // Delivered a microtask later, once undici has parsed what this read brought: a small answer
    // arrives whole with its head (data and end in the same parse), and then goes on as a Buffer —
    // no stream object made, destroyed and closed a tick later per answer. Anything longer goes on
    // as an `UpstreamBody` holding the chunks so far.
    this.head = { status, headers };
    void RESOLVED.then(() => this.deliver());
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.head === undefined) { this.body?.data(chunk); return; }
    (this.chunks ??= []).push(chunk);
    this.chunkBytes += chunk.length;
    if (this.chunkBytes >= WAITING_BYTES) controller.pause(); // the body resumes it when read or relayed
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: http.IncomingHttpHeaders): void {
    this.conn!.served++;
    this.done(false);
    if (this.head === undefined) { this.body?.end(trailers); return; }
    this.complete = true;
    for (const _ in trailers) { this.trailers = trailers; break; }
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    this.done(true);
    if (this.head !== undefined) this.deliver();
    if (this.body !== undefined) this.body.destroy(err);
    else if (REFUSED.has((err as NodeJS.ErrnoException).code ?? '')) this.refused(err);
    else this.onError(err);
  }

  /** The answer goes to the caller: a Buffer when the upstream sent all of it, else a stream of it. */
  private deliver(): void {
    const head = this.head;
    if (head === undefined) return; // delivered already (an error came first)
    this.head = undefined;
    const chunks = this.chunks;
    this.chunks = undefined;
    if (this.complete && this.trailers === undefined) {
      const body = chunks === undefined ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.chunkBytes);
      this.resolve({ status: head.status, headers: head.headers, body });
      return;
    }
    const body = (this.body = new UpstreamBody(this.controller!, chunks, this.chunkBytes));
    if (this.complete) body.end(this.trailers!);
    this.resolve({ status: head.status, headers: head.headers, body });
  }

  /** undici refused the request itself (a header or method it will not send): a bug of ours, not the upstream's. */
  private refused(err: Error): void {
    if (this.settle()) (this.reject as (e: Error) => void)(err);
  }

  // --- AttemptCall ---

  protected cancel(): void {
    const conn = this.conn;
    if (conn === undefined) return;
    conn.broken = true;
    // On a connection: abort through the controller. Still waiting for one: close that connection,
    // which fails the waiting request (its handler then sees `done`).
    if (this.controller !== null) this.controller.abort(new Error('attempt cancelled'));
    else conn.client.destroy(new Error('attempt cancelled')).catch(noop);
  }

  protected again(): void {
    new UndiciCall(this.req, this.attempt, true, this.resolve, this.reject).send();
  }

  /** The dispatch is over (answered or failed): the connection goes back, or away when it failed. */
  private done(failed: boolean): void {
    const conn = this.conn;
    if (conn === undefined) return;
    this.conn = undefined;
    if (failed) conn.broken = true;
    conn.pool.release(conn);
  }
}

/**
 * The upstream response body of an answer not complete when delivered. undici hands it each chunk
 * as it reads it; until someone consumes the body the chunks wait here. Relayed to the client (`RELAY`, what `writeResponse`
 * does) each chunk goes straight to `res.write` — no stream buffer, no ticks: a `false` pauses the
 * upstream (`controller.pause()`), the client's 'drain' resumes it. Read as a stream by anyone else
 * (the mirror's digest, tests) it is a plain `Readable`: a full buffer pauses the upstream, reading
 * resumes it. Waiting for a consumer, more than a stream buffer's worth pauses the upstream too. A
 * consumer that destroys it before its end (the client left mid-body, a retry discards an answer)
 * aborts the upstream request, so its connection is never reused with unread bytes on it.
 */
class UpstreamBody extends Readable implements DirectBody {
  private sink: RelaySink | undefined;
  /** A stream consumer asked for data (`_read`): chunks go through `push` from now on. */
  private streaming = false;
  private waiting: Buffer[] | undefined;
  private waitingBytes = 0;
  /** The upstream sent all of it. */
  private complete = false;

  constructor(private readonly controller: Dispatcher.DispatchController, waiting: Buffer[] | undefined, waitingBytes: number) {
    super();
    this.waiting = waiting;
    this.waitingBytes = waitingBytes;
  }

  data(chunk: Buffer): void {
    if (this.sink !== undefined) {
      if (!this.sink.write(chunk)) this.controller.pause();
    } else if (this.streaming) {
      if (!this.push(chunk)) this.controller.pause();
    } else {
      (this.waiting ??= []).push(chunk);
      this.waitingBytes += chunk.length;
      if (this.waitingBytes >= this.readableHighWaterMark) this.controller.pause();
    }
  }

  /** The upstream's last byte, with its chunked trailer section (undici gives `{}` when there was none). */
  end(trailers: http.IncomingHttpHeaders): void {
    this.complete = true;
    for (const _ in trailers) { trailersArrived(this, trailers); break; }
    if (this.sink !== undefined) this.finishSink(this.sink);
    else if (this.streaming) this.push(null);
  }

  [RELAY](dst: RelaySink): boolean {
    if (this.streaming) return false; // already read as a stream: the caller pipes
    this.sink = dst;
    const waiting = this.waiting;
    this.waiting = undefined;
    if (this.complete) {
      // The whole answer is here (a small one arrives with its headers): its last chunk goes with
      // `end`, which sends it with the head in one write — `write` then `end` would cork the
      // socket and uncork it a tick later.
      const last = waiting?.pop();
      if (waiting !== undefined) for (const chunk of waiting) dst.write(chunk);
      this.finishSink(dst, last);
      return true;
    }
    if (waiting !== undefined) for (const chunk of waiting) dst.write(chunk);
    dst.on('drain', () => this.controller.resume());
    if (!dst.writableNeedDrain) this.controller.resume();
    return true;
  }

  override _read(): void {
    if (!this.streaming) {
      this.streaming = true;
      if (this.waiting !== undefined) for (const chunk of this.waiting) this.push(chunk);
      this.waiting = undefined;
      if (this.complete) { this.push(null); return; }
    }
    this.controller.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.complete && !this.controller.aborted) this.controller.abort(err ?? new Error('response body discarded'));
    this.waiting = undefined;
    cb(err);
  }

  /** The whole answer is written (but `last`): end the client's response and close (which frees the pool slot). */
  private finishSink(dst: RelaySink, last?: Buffer): void {
    dst.end(last);
    this.destroy();
  }
}

const RESOLVED = Promise.resolve();
const EMPTY = Buffer.alloc(0);
/** Chunks held before delivery past which the upstream is paused (a `Readable`'s default high-water mark). */
const WAITING_BYTES = 64 * 1024;

/** undici's validation errors: the request was never sent. */
const REFUSED = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED']);

/** Host → undici's server name for it, so undici does not derive it again on every request. */
const serverNames = new Map<string, string | null>();
const SERVER_NAMES_MAX = 1024;

/**
 * The `servername` undici itself derives from the Host header (its `getServerName`: the host name,
 * nothing for an IP address), remembered per Host: undici would otherwise run `net.isIP` — a long
 * IPv6 regex for every host name — on each request. The value is undici's own, so it behaves alike
 * (our origins are `http:`, where undici uses a request's server name only to sort out a TLS
 * name-mismatch error). Bounded: a Host is the client's choice.
 */
function serverName(host: string): string | null {
  let name = serverNames.get(host);
  if (name === undefined) {
    if (serverNames.size >= SERVER_NAMES_MAX) serverNames.clear();
    serverNames.set(host, (name = undiciUtil.getServerName(host)));
  }
  return name;
}

/** The headers for undici when a chunked request carries `transfer-encoding` (undici frames it). */
function withoutTransferEncoding(headers: http.IncomingHttpHeaders): http.IncomingHttpHeaders {
  const out: http.IncomingHttpHeaders = {};
  for (const name in headers) if (name !== 'transfer-encoding') out[name] = headers[name];
  return out;
}

function noop(): void {}
