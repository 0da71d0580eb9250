/**
 * The retry layer (SPEC §5), over the resilience module's `RetryLoop`: tries ≤ 1 + attempts, all
 * inside the route deadline, each try a fresh endpoint when one is left, backoff with full jitter,
 * the retry budget, `Retry-After`, and the non-idempotent rule. Bodies up to 1 MiB are buffered so
 * a retry resends them whole; a larger body streams once and its request is not retried. Every
 * retriable failure left unretried with tries to spare is reported with its reason (`retrySkipped`:
 * budget, deadline, body-too-large, non-idempotent). Exhausted: the last answer goes back with flag `URX`.
 */
import type { Handler, ProxyRequest, ProxyResponse, RequestContext } from '../core/context.js';
import { addFlag } from '../core/context.js';
import type { ProxyEvents } from '../core/events.js';
import { parseRetryAfter, type Outcome, type RetryLoop, type TryReport } from '../resilience/index.js';
import { errorOutcome, NO_TRIED, responseOutcome, type Try } from './attempt.js';
import { bufferBody, hasBody, RecordedBody, RETRY_BUFFER_LIMIT, type MemoryPressure } from './body.js';
import { isGrpc } from '../core/grpc.js';
import { clientSignal } from './signal.js';

type Result = { resp: ProxyResponse; err?: undefined } | { resp?: undefined; err: unknown };

export function retryHandler(loop: RetryLoop, route: string, upstream: string, events: ProxyEvents, once: Try, pressure?: MemoryPressure): Handler {
  const onRetry = (): void => events.retry(route, upstream); // one per route, not per request
  /**
   * The first try outside the loop, and not in an async function: a request it settles (nearly
   * all) answers with one `.then` on the try's promise — no async frame, report, attempt closure or
   * loop options; only an outcome the loop may retry goes on to `retried`.
   */
  const first = (req: ProxyRequest, ctx: RequestContext, recorded: RecordedBody | undefined): Promise<ProxyResponse> => {
    loop.begin();
    let tried: Promise<ProxyResponse>;
    try {
      tried = once(req, ctx, NO_TRIED);
    } catch (err) {
      tried = Promise.reject(err);
    }
    return tried.then((resp) => {
      const outcome = responseOutcome(resp);
      if (loop.settles(outcome, req.method)) return resp;
      return retried(req, ctx, recorded, report(resp, outcome, ctx.endpoint));
    }, (err: unknown) => {
      const outcome = errorOutcome(err);
      if (outcome === undefined || loop.settles(outcome, req.method)) throw err; // not the upstream's answer, or not retriable
      return retried(req, ctx, recorded, { outcome, result: { err }, endpoint: ctx.endpoint });
    });
  };
  /** The loop, from the first try's retriable outcome. */
  const retried = async (req: ProxyRequest, ctx: RequestContext, recorded: RecordedBody | undefined, firstTry: TryReport<Result>): Promise<ProxyResponse> => {
    let previous = firstTry.result.resp;
    const attempt = async (_n: number, excluded: ReadonlySet<string>): Promise<TryReport<Result>> => {
      if (previous && !Buffer.isBuffer(previous.body)) previous.body.destroy(); // the answer we are not keeping
      previous = undefined;
      try {
        const resp = await once(req, ctx, excluded);
        previous = resp;
        return report(resp, responseOutcome(resp), ctx.endpoint);
      } catch (err) {
        const outcome = errorOutcome(err);
        if (outcome === undefined) throw err; // breaker open, overflow, client gone: not the upstream's answer
        return { outcome, result: { err }, endpoint: ctx.endpoint };
      }
    };
    const r = await loop.run(attempt, {
      method: req.method, deadline: ctx.deadline, signal: () => clientSignal(req), replayable: recorded === undefined ? req.bodyStream === undefined : () => {
        if (recorded !== undefined) recorded = replayRecorded(req, recorded);
        return req.bodyStream === undefined;
      },
      onRetry,
    }, firstTry);
    if (r.skipped !== undefined) events.retrySkipped(route, upstream, r.skipped);
    if (r.exhausted) addFlag(ctx, 'URX');
    if (r.result.err !== undefined) throw r.result.err;
    return r.result.resp!;
  };
  return (req, ctx) => {
    // A gRPC body the mirror layer already records as it streams (its copy feeds the shadow).
    let recorded = req.bodyStream instanceof RecordedBody ? req.bodyStream : undefined;
    if (hasBody(req) && req.body === undefined && req.bodyStream === undefined) {
      if (isGrpc(req.headers['content-type'])) req.bodyStream = recorded = new RecordedBody(req.source, RETRY_BUFFER_LIMIT, pressure);
      else return bufferBody(req, RETRY_BUFFER_LIMIT, pressure).then(() => first(req, ctx, recorded));
    }
    return first(req, ctx, recorded);
  };
}

/** An answer as the loop sees it, with its Retry-After. */
function report(resp: ProxyResponse, outcome: Outcome, endpoint: string | undefined): TryReport<Result> {
  const retryAfter = resp.headers['retry-after'];
  return { outcome, result: { resp }, endpoint, retryAfterMs: typeof retryAfter === 'string' ? parseRetryAfter(retryAfter) : undefined };
}

/** A recorded body that is complete becomes the buffered body every later try resends. */
function replayRecorded(req: ProxyRequest, recorded: RecordedBody): RecordedBody | undefined {
  const body = recorded.replay();
  if (body === undefined) return recorded;
  req.body = body;
  req.bodyStream = undefined;
  return undefined;
}
