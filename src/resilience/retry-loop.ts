/**
 * The retry loop of one route (SPEC §5): runs tries until one is not worth retrying, the retries are
 * used up, the retry budget says no, or the next backoff would end past the route's deadline. The
 * caller's `attempt(n, excluded)` does one try — endpoint pick (preferring endpoints not in
 * `excluded`), per-try timeout, breaker, forwarding — and reports what it came to.
 *
 * Why not cockatiel's `retry()`: its backoff delay cannot be interrupted by an abort (a client that
 * left would hold the request until the delay ends), it cannot stop because the delay would overrun
 * the deadline, it has no notion of a budget consulted before each retry or of Retry-After, and a
 * per-request policy object would be built on every request. The delays themselves come from
 * cockatiel (`backoff.ts`); this loop is only the bookkeeping around them.
 */
import { RetryBackoff, type BackoffOptions } from './backoff.js';
import { systemClock, type Clock } from './clock.js';
import type { Outcome } from './outcome.js';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.js';
import { retryVerdict, type RetryOn } from './retry-conditions.js';

/** The route's `retries` block, as the policy has it (`perTryTimeout` is the caller's business). */
export interface RetryLoopOptions {
  /** Retries after the first try (so at most 1 + attempts tries). No default: required. */
  attempts: number;
  retryOn: readonly RetryOn[];
  /** Retry POST/PATCH on any retriable outcome, not only connect failures. Policy default false. */
  nonIdempotent?: boolean | undefined;
  backoff: BackoffOptions;
  /** Without it, retries are limited by `attempts` and the deadline only. */
  budget?: RetryBudgetOptions | undefined;
}

/** What one try came to. */
export interface TryReport<T> {
  /** Decides whether to retry. */
  outcome: Outcome;
  /** Handed back as-is when the loop stops on this try (the response, or the error to throw). */
  result: T;
  /** The endpoint tried; added to `excluded` for the following tries. */
  endpoint?: string | undefined;
  /** The answer's Retry-After in ms (`parseRetryAfter`), if it had one. */
  retryAfterMs?: number | undefined;
}

/**
 * One try. `n` is 0 for the first try; `excluded` holds the endpoints tried so far. Resolve with a
 * report for anything the upstream did (answers, connect failures, resets, timeouts); throw for
 * anything else (client left, breaker open, overflow): the loop stops and rethrows.
 */
export type Attempt<T> = (n: number, excluded: ReadonlySet<string>) => Promise<TryReport<T>>;

export interface RetryInfo {
  /** 1 for the first retry. */
  readonly retry: number;
  readonly delayMs: number;
  readonly outcome: Outcome;
  readonly endpoint: string | undefined;
}

export interface RunOptions {
  method: string;
  /** Absolute deadline in the clock's timebase (`RequestContext.deadline` with the default clock). */
  deadline: number;
  /**
   * Aborts the loop between tries and during backoff; the loop rejects with `signal.reason`. As a
   * function, the signal is made only when first needed — before a second try — so a request that
   * its first try settles never pays for one (an AbortController is an EventTarget); the caller then
   * guards the first try itself.
   */
  signal?: AbortSignal | (() => AbortSignal) | undefined;
  /**
   * False when the body was streamed (over the 1 MiB buffer): one try only (stop `body-too-large`).
   * A function is asked before each retry (a recorded gRPC body becomes replayable once complete).
   * Default true.
   */
  replayable?: boolean | (() => boolean) | undefined;
  /** Called before each backoff delay (for `pilotfish_retries_total` and the access log). */
  onRetry?: ((info: RetryInfo) => void) | undefined;
}

/**
 * Why a retriable failure was not retried although tries were left (SPEC-style names, the `reason`
 * of `pilotfish_retries_skipped_total`): the retry `budget` was spent; the backoff would end past the
 * route's `deadline`; the body was streamed, not buffered (`body-too-large`, over 1 MiB); or the
 * method is `non-idempotent` and the failure is one where the request may have reached the upstream.
 */
export type SkipReason = 'budget' | 'deadline' | 'body-too-large' | 'non-idempotent';

/**
 * Why the loop stopped: `done` (the outcome is not one retryOn covers — a success, or another
 * failure), `attempts` (all used), or a `SkipReason`.
 */
export type StopReason = 'done' | 'attempts' | SkipReason;

export interface RetryResult<T> {
  readonly result: T;
  readonly outcome: Outcome;
  readonly tries: number;
  readonly stop: StopReason;
  /** The last outcome was retriable but retries ran out (attempts, budget, deadline): flag `URX`. */
  readonly exhausted: boolean;
  /** Set when a retriable failure was not retried although attempts were left. */
  readonly skipped: SkipReason | undefined;
}

export class RetryLoop {
  private readonly options: RetryLoopOptions;
  private readonly backoff: RetryBackoff;
  private readonly budget: RetryBudget | undefined;
  private readonly clock: Clock;

  /** `deps.budget` shares a budget (one that outlives reloads); else `options.budget` makes one. */
  constructor(options: RetryLoopOptions, deps: { clock?: Clock; budget?: RetryBudget | undefined } = {}) {
    this.options = options;
    this.clock = deps.clock ?? systemClock;
    this.backoff = new RetryBackoff(options.backoff);
    this.budget = deps.budget ?? (options.budget ? new RetryBudget(options.budget, { clock: this.clock }) : undefined);
  }

  /** The loop's retry budget, if it has one (explain). */
  get retryBudget(): RetryBudget | undefined {
    return this.budget;
  }

  /**
   * Counts the request against the retry budget: once per request, before its first try. `run`
   * does it itself unless it is handed the first try's report (see `settles`).
   */
  begin(): void {
    this.budget?.recordRequest();
  }

  /**
   * True when a first try that came to `outcome` ends the request: `run` would stop on it with
   * `done` (not retriable, so never exhausted or skipped). The caller that makes the first try
   * itself (after `begin()`) answers with it at once, and only otherwise hands it to `run` as
   * `first`: a request its first try settles then costs one call, not the loop's promises.
   */
  settles(outcome: Outcome, method: string): boolean {
    return retryVerdict(outcome, this.options, method) === 'no';
  }

  /** Runs the tries; `first`, when given, is the first try's report (made after `begin()`). */
  async run<T>(attempt: Attempt<T>, run: RunOptions, first?: TryReport<T>): Promise<RetryResult<T>> {
    if (first === undefined) this.begin();
    // Made on the way to a second try only: most requests stop after the first.
    let excluded: Set<string> | undefined;
    let delays: ReturnType<RetryBackoff['start']> | undefined;
    let signal = typeof run.signal === 'function' ? undefined : run.signal;
    for (let n = 0; ; n++) {
      if (n > 0 && signal === undefined && typeof run.signal === 'function') signal = run.signal();
      signal?.throwIfAborted();
      const report = n === 0 && first !== undefined ? first : await attempt(n, excluded ?? NO_ENDPOINTS);
      const verdict = retryVerdict(report.outcome, this.options, run.method);
      if (verdict === 'no') return stopped(report, n, 'done');
      if (n >= this.options.attempts) return stopped(report, n, 'attempts');
      if (verdict === 'non-idempotent') return stopped(report, n, 'non-idempotent');
      if (run.replayable === false || (typeof run.replayable === 'function' && !run.replayable())) return stopped(report, n, 'body-too-large');
      if (report.endpoint !== undefined) (excluded ??= new Set()).add(report.endpoint);
      const delayMs = (delays ??= this.backoff.start()).next(report.retryAfterMs);
      if (this.clock.now() + delayMs >= run.deadline) return stopped(report, n, 'deadline');
      if (this.budget && !this.budget.tryAcquireRetry()) return stopped(report, n, 'budget');
      run.onRetry?.({ retry: n + 1, delayMs, outcome: report.outcome, endpoint: report.endpoint });
      if (typeof run.signal === 'function') signal ??= run.signal();
      await sleep(delayMs, signal);
    }
  }
}

const NO_ENDPOINTS: ReadonlySet<string> = new Set();

function stopped<T>(report: TryReport<T>, n: number, stop: StopReason): RetryResult<T> {
  return {
    result: report.result, outcome: report.outcome, tries: n + 1, stop,
    exhausted: stop === 'attempts' || stop === 'budget' || stop === 'deadline',
    skipped: stop === 'done' || stop === 'attempts' ? undefined : stop,
  };
}

/** A delay that an abort cuts short (rejecting with the signal's reason) and that leaves no timer. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
