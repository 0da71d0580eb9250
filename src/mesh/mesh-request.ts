/**
 * The `ProxyRequest` of library mode: a call made inside the application, with no socket behind it.
 * Its downstream is the caller's handler: it "leaves" when the caller aborts (an AbortSignal, a
 * cancelled body), and the exchange closes when the answer has been handed over whole.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { NO_PEER, type ProxyRequest } from '../core/context.js';

export class MeshRequest implements ProxyRequest {
  bodyStream: Readable | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  readonly peer = NO_PEER;
  readonly http1 = undefined;
  private gone = false;
  private closed = false;
  /** Who waits for the caller to leave: one (the attempt) but for a mirror; no array for one. */
  private listener: (() => void) | undefined;
  private listeners: Array<() => void> | undefined;

  constructor(
    readonly method: string,
    public host: string,
    public path: string,
    readonly headers: IncomingHttpHeaders,
    /** A body the caller gave whole (string, bytes). */
    public body: Buffer | undefined,
    /** A body the caller streams. */
    private stream: Readable | undefined,
  ) {}

  get source(): Readable {
    return (this.stream ??= Readable.from(this.body ? [this.body] : []));
  }

  get downstreamGone(): boolean { return this.gone; }

  onDownstreamClose(fn: () => void): void {
    if (this.closed) return;
    if (this.listener === undefined) this.listener = fn;
    else (this.listeners ??= []).push(fn);
  }

  offDownstreamClose(fn: () => void): void {
    if (this.listener === fn) { this.listener = undefined; return; }
    const l = this.listeners;
    if (l === undefined) return;
    const i = l.indexOf(fn);
    if (i >= 0) l.splice(i, 1);
  }

  /** The caller gave up before the answer was complete. */
  leave(): void {
    if (this.closed) return;
    this.gone = true;
    this.stream?.destroy();
    this.close();
  }

  /** The answer was handed over whole (or the exchange is otherwise over). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const one = this.listener;
    const l = this.listeners;
    this.listener = undefined;
    this.listeners = undefined;
    one?.();
    if (l !== undefined) for (const fn of l) fn();
  }
}
