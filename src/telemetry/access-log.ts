/**
 * The access log: one JSON line per request on stdout (SPEC §6), through pino.
 *
 * Stdout is written asynchronously (SonicBoom, `sync: false`): a synchronous write blocks the event
 * loop — and so every request in flight — whenever the pipe to the container runtime is slow or full,
 * while an asynchronous one coalesces the lines queued during a write into the next write. The price is
 * lines still buffered at exit, so `close()` (on SIGTERM, after the drain) and `flushSync()` (for a
 * last-resort exit handler) write them out. The buffer is capped: a stuck stdout drops lines (counted
 * in `dropped`) instead of growing the heap. Operational logs stay synchronous on stderr (log.ts).
 *
 * `path` is logged without its query string: queries routinely carry tokens, session ids and personal
 * data, and access logs travel to stores with wider access and longer retention than the request.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { RequestDone } from '../core/observer.js';

export interface AccessLogOptions {
  /** `false`: `write` returns at once and nothing is opened. Default `true`. */
  readonly enabled?: boolean;
  /**
   * Where lines go: a file descriptor or file path (written asynchronously, owned and closed by the
   * log), or a stream the caller owns (tests, custom sinks). Default 1, stdout.
   */
  readonly destination?: number | string | DestinationStream;
  /** Bytes buffered for an owned destination before lines are dropped. Default 16 MiB. */
  readonly maxBufferBytes?: number;
}

/** The request context fields the log reads; a `RequestContext` satisfies it. */
export interface AccessContext {
  readonly direction: string;
  readonly requestId: string;
  readonly generation: number;
  readonly flags: readonly string[];
  readonly route: string;
  readonly upstream: string;
  readonly subset: string;
  readonly endpoint: string;
  readonly attempts: number;
}

/** What only the edge knows once the answer is done, and the request's trace id ('' without tracing). */
export type AccessDetails = RequestDone & { readonly traceId: string };

type SonicBoom = ReturnType<typeof pino.destination>;

const DEFAULT_MAX_BUFFER = 16 * 1024 * 1024;

export class AccessLog {
  /** Lines dropped because the owned destination could not keep up. */
  dropped = 0;
  private logger: Logger | undefined;
  private readonly owned: SonicBoom | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: AccessLogOptions = {}) {
    if (options.enabled === false) return;
    const dest = options.destination ?? 1;
    let stream: DestinationStream;
    if (typeof dest === 'number' || typeof dest === 'string') {
      const boom = pino.destination({ dest, sync: false, maxLength: options.maxBufferBytes ?? DEFAULT_MAX_BUFFER });
      // EPIPE and friends when the reader goes away: losing log lines must not kill the proxy.
      boom.on('error', () => {});
      boom.on('drop', () => { this.dropped++; });
      this.owned = boom;
      stream = boom;
    } else {
      stream = dest;
    }
    this.logger = pino({
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Every line is an access record, so no level. pino opens each line with the level formatter's
      // output and cannot leave it empty; a constant tag there tells these lines apart from the
      // operational ones where a log pipeline (or `kubectl logs`) merges stdout and stderr.
      formatters: { level: () => ({ log: 'access' }) },
    }, stream);
  }

  get enabled(): boolean {
    return this.logger !== undefined;
  }

  /** Logs one finished request. Call once per request, after the answer ended or failed. */
  write(ctx: AccessContext, d: AccessDetails): void {
    const logger = this.logger;
    if (logger === undefined) return;
    const q = d.path.indexOf('?');
    logger.info({
      direction: ctx.direction,
      method: d.method,
      host: d.host,
      path: q < 0 ? d.path : d.path.slice(0, q),
      status: d.status,
      flags: ctx.flags.length === 0 ? '' : ctx.flags.join(','),
      route: ctx.route,
      upstream: ctx.upstream,
      subset: ctx.subset,
      endpoint: ctx.endpoint,
      attempts: ctx.attempts,
      duration: Math.round(d.durationMs * 1000) / 1000,
      bytesIn: d.bytesIn,
      bytesOut: d.bytesOut,
      traceId: d.traceId,
      generation: ctx.generation,
      requestId: ctx.requestId,
    });
  }

  /** Writes buffered lines synchronously: for `process.on('exit')`, where async work never runs. */
  flushSync(): void {
    try {
      if (this.owned && this.closing === undefined) this.owned.flushSync();
    } catch {
      // Not open yet, or the pipe is gone: nothing more can be done at exit.
    }
  }

  /** Writes out every buffered line and closes an owned destination (stdout itself stays open). */
  close(): Promise<void> {
    // A request finishing after this point is not logged: writing to a closed SonicBoom throws.
    if (this.owned) this.logger = undefined;
    this.closing ??= new Promise<void>((resolve) => {
      const boom = this.owned;
      if (!boom) return resolve();
      boom.once('close', () => resolve());
      // A failing final write or close still ends the wait: shutdown must not hang on the log.
      boom.once('error', () => resolve());
      boom.end();
    });
    return this.closing;
  }
}
