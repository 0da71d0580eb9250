/**
 * The mesh as an undici `Dispatcher`: `fetch(url, { dispatcher })`, `undici.request(url, {
 * dispatcher })` and `setGlobalDispatcher(mesh.dispatcher)` all end in `dispatch(opts, handler)`,
 * which hands the call to the request core (`pipeline/serve.ts`, the outbound listener's own) and
 * plays the answer back through the handler's hooks. A thin edge like `proxy/listener.ts`: no
 * routing or resilience here. Handlers with undici's old hooks (`onConnect`, `onHeaders`, …) are
 * adapted by undici's own wrapper.
 */
import { STATUS_CODES } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { addFlag, type ProxyResponse, type RequestContext } from '../core/context.js';
import { noRoute } from '../core/errors.js';
import type { RequestObserver } from '../core/observer.js';
import type { Snapshot } from '../core/snapshot.js';
import { rescue } from '../pipeline/rescue.js';
import { newContext, routeInput, serve } from '../pipeline/serve.js';
import { cleanRequestHeaders, cleanResponseHeaders, setForwardingHeaders } from '../proxy/headers.js';
import { RELAY, type DirectBody, type RelaySink } from '../proxy/relay.js';
import { forwardableTrailers, trailersOf } from '../proxy/trailers.js';
import { callInput, MeshArgumentError, type CallInput } from './call-input.js';
import { MeshRequest } from './mesh-request.js';

// undici's base class and legacy-handler adapter, without undici's index (fetch, WebSocket, cache: ~12 MB).
const require = createRequire(import.meta.url);
const UndiciDispatcher = require('undici/lib/dispatcher/dispatcher.js') as typeof Dispatcher;
const { wrapHandler } = require('undici/lib/dispatcher/dispatcher1-wrapper.js') as { wrapHandler(h: unknown): Dispatcher.DispatchHandler };

export interface MeshEdge {
  readonly current: () => Snapshot;
  readonly log: Logger;
  readonly observer: RequestObserver;
  readonly track: { begin(): void; end(): void };
  /** True once the mesh is closing: new calls are refused. */
  readonly closing: () => boolean;
  /** Where `https://` calls go under `allow-any` (TLS the application originates is passed through). */
  readonly passthrough: () => Dispatcher | undefined;
}

export class MeshDispatcher extends UndiciDispatcher {
  constructor(private readonly edge: MeshEdge) {
    super();
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const h = wrapHandler(handler);
    let input: CallInput;
    try {
      if (this.edge.closing()) throw Object.assign(new Error('pilotfish mesh is closed'), { name: 'ClientClosedError', code: 'UND_ERR_CLOSED' });
      if (opts.upgrade) throw new MeshArgumentError('pilotfish mesh: upgrade (WebSocket, CONNECT) is not routed by the mesh');
      input = callInput(opts);
    } catch (err) {
      h.onResponseError?.(null as unknown as Dispatcher.DispatchController, err as Error);
      return false;
    }
    if (input.scheme === 'https') return this.tls(input, opts, h);
    new MeshCall(this.edge, input, h).start();
    return true;
  }

  /** TLS the app makes itself cannot be read: passed through under allow-any, refused (404 NR) otherwise. */
  private tls(input: CallInput, opts: Dispatcher.DispatchOptions, h: Dispatcher.DispatchHandler): boolean {
    const snapshot = this.edge.current();
    const through = snapshot.policy.outboundTrafficPolicy === 'allow-any' ? this.edge.passthrough() : undefined;
    if (through !== undefined) return through.dispatch(opts, h);
    new MeshCall(this.edge, input, h).refuse();
    return true;
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    // The mesh owns the connections: closing the dispatcher (e.g. undici's global teardown) is a no-op; `mesh.close()` closes.
    if (callback) { queueMicrotask(callback); return; }
    return Promise.resolve();
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: unknown, b?: unknown): Promise<void> | void {
    const callback = typeof a === 'function' ? a : b;
    if (typeof callback === 'function') { queueMicrotask(callback as () => void); return; }
    return Promise.resolve();
  }
}

/**
 * One call: the request core's answer played back through the handler, with back-pressure and abort.
 * It is also the relay sink the undici engine's body writes to (`write` is `onResponseData`, false
 * while the handler has paused): one object per call, not two. A handler hook that throws aborts
 * the call: a caller's bug must not leak the upstream.
 */
class MeshCall implements Dispatcher.DispatchController, RelaySink {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  private readonly ctx: RequestContext;
  private readonly req: MeshRequest;
  /** The snapshot current at arrival: the call keeps it to the end. */
  private readonly snapshot: Snapshot;
  private body: Readable | undefined;
  /** The body writes itself to this call (RELAY), rather than being read as a stream. */
  private relayed = false;
  writableNeedDrain = false;
  private onDrain: (() => void) | undefined;
  private pending: Buffer | undefined;
  private headers: IncomingHttpHeaders | undefined;
  private status = 0;
  private bytesOut = 0;
  private ended = false;

  constructor(private readonly edge: MeshEdge, private readonly input: CallInput, private readonly handler: Dispatcher.DispatchHandler) {
    const snapshot = (this.snapshot = edge.current());
    this.ctx = newContext('outbound', snapshot);
    const headers = cleanRequestHeaders(input.headers);
    (this.ctx as { requestId: string }).requestId = setForwardingHeaders(headers, undefined, input.host);
    this.req = new MeshRequest(input.method, input.host, input.path, headers, input.body, input.stream);
    edge.track.begin();
  }

  /**
   * undici's `rawHeaders` (documented as `Buffer[] | string[] | object | null`): the answer's header
   * object itself. undici's `request` reads it on every answer without using it; its `fetch` and
   * its wrapper for old-style handlers turn an object into pairs themselves, so nothing is built here.
   */
  get rawHeaders(): IncomingHttpHeaders | null {
    return this.headers ?? null;
  }

  start(): void {
    const { edge, input, ctx, req, snapshot } = this;
    if (edge.observer.traces !== false) {
      ctx.trace = edge.observer.start(req.headers, { direction: 'outbound', method: input.method, host: input.host, path: input.path, requestId: ctx.requestId });
    }
    if (!this.begin()) return;
    const route = routeInput(input.host, input.path, input.method, req.headers);
    void serve(snapshot, req, route, ctx, edge.log).then((resp) => this.respond(resp));
  }

  /** The answer for a call the mesh cannot route (TLS under registry-only). */
  refuse(): void {
    if (!this.begin()) return;
    this.respond(rescue(noRoute(this.input.host, this.input.path), this.ctx, this.edge.log));
  }

  /** `onRequestStart`: false when the handler aborted at once (an already-aborted signal). */
  private begin(): boolean {
    try {
      this.handler.onRequestStart?.(this, {});
    } catch (err) {
      this.abort(err as Error);
    }
    return !this.aborted;
  }

  // --- DispatchController ---

  abort(reason: Error): void {
    if (this.aborted || this.ended) return;
    this.aborted = true;
    this.reason = reason;
    addFlag(this.ctx, 'DC');
    this.req.leave();
    this.body?.destroy();
    this.handler.onResponseError?.(this, reason);
    this.finish();
  }

  pause(): void {
    this.paused = true;
    // A direct body learns it from the sink's next write; a stream is paused now.
    if (!this.relayed) this.body?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.pending !== undefined) { const b = this.pending; this.pending = undefined; this.whole(b); return; }
    if (this.relayed) this.drained();
    else this.body?.resume();
  }

  // --- the answer ---

  private respond(resp: ProxyResponse): void {
    if (this.aborted) {
      if (!Buffer.isBuffer(resp.body)) resp.body.destroy();
      return;
    }
    const headers = cleanResponseHeaders(resp.headers) as IncomingHttpHeaders;
    if (this.ctx.flags.length > 0) headers['x-pilotfish-flags'] = this.ctx.flags.join(',');
    this.headers = headers;
    this.status = resp.status;
    try {
      this.handler.onResponseStart?.(this, resp.status, headers, STATUS_CODES[resp.status] ?? '');
    } catch (err) {
      this.abort(err as Error);
    }
    if (this.aborted) {
      if (!Buffer.isBuffer(resp.body)) resp.body.destroy();
      return;
    }
    if (Buffer.isBuffer(resp.body)) {
      if (this.paused) this.pending = resp.body;
      else this.whole(resp.body);
      return;
    }
    this.stream(resp.body);
  }

  private whole(body: Buffer): void {
    if (body.length > 0) {
      this.data(body);
      if (this.aborted) return;
    }
    this.complete();
  }

  private stream(body: Readable): void {
    this.body = body;
    body.on('error', (err) => this.fail(err));
    body.on('close', () => { if (!this.ended && !this.aborted) this.fail(new Error('upstream response closed before its end')); });
    // The undici engine's body writes itself to a sink: each chunk straight to the handler, no stream hop.
    const direct = (body as Readable & Partial<DirectBody>)[RELAY];
    this.relayed = true;
    if (direct !== undefined && direct.call(body, this)) return;
    this.relayed = false;
    body.on('data', (chunk: Buffer) => this.data(chunk));
    body.on('end', () => this.complete());
    if (this.paused) body.pause();
  }

  /** A chunk of the answer for the handler. */
  data(chunk: Buffer): void {
    if (this.aborted) return;
    this.bytesOut += chunk.length;
    try {
      this.handler.onResponseData?.(this, chunk);
    } catch (err) {
      this.abort(err as Error);
    }
  }

  complete(): void {
    if (this.ended || this.aborted) return;
    this.ended = true;
    this.req.close();
    try {
      const trailers = this.body === undefined ? undefined : trailersOf(this.body);
      this.handler.onResponseEnd?.(this, trailers === undefined ? {} : forwardableTrailers(trailers) as IncomingHttpHeaders);
    } catch (err) {
      this.abort(err as Error);
    }
    this.finish();
  }

  /** The upstream's body broke after the headers: the caller sees an error, never a short body as whole. */
  private fail(err: Error): void {
    if (this.ended || this.aborted) return;
    this.ended = true;
    addFlag(this.ctx, 'UC');
    this.req.close();
    this.handler.onResponseError?.(this, err);
    this.finish();
  }

  // --- RelaySink (the undici engine's body writes itself here) ---

  write(chunk: Buffer): boolean {
    this.data(chunk);
    if (!this.paused) return true;
    this.writableNeedDrain = true;
    return false;
  }

  end(chunk?: Buffer): void {
    if (chunk !== undefined) this.data(chunk);
    this.complete();
  }

  on(_event: 'drain', fn: () => void): this {
    this.onDrain = fn;
    return this;
  }

  /** The handler resumed: a body waiting for 'drain' goes on. */
  private drained(): void {
    if (!this.writableNeedDrain) return;
    this.writableNeedDrain = false;
    this.onDrain?.();
  }

  private finishedOnce = false;

  private finish(): void {
    if (this.finishedOnce) return;
    this.finishedOnce = true;
    this.edge.track.end();
    const { input, ctx } = this;
    this.edge.observer.end(ctx, {
      method: input.method, host: input.host, path: input.path,
      status: this.status > 0 && !ctx.flags.includes('DC') ? this.status : 499,
      durationMs: performance.now() - ctx.start, bytesIn: input.body?.length ?? 0, bytesOut: this.bytesOut,
    });
  }
}
