/**
 * Turns the fleet's generations into policy applications. It knows nothing of the sidecar: it is
 * given a callback that applies a generation's policy and reports the result (the sidecar's
 * `offer`, or library mode's), so every consumer takes the same validate → build → swap path.
 *
 * When it looks (SPEC §9): on the push after each publish; after every (re)connection — messages
 * published while a subscriber was away are lost, so a reconnect re-reads; and on a safety poll,
 * which reads two small values (generation and epoch) and fetches the document only when they moved.
 * A push carries the document itself (up to `PUSHED_DOCUMENT_BYTES`): it is judged and applied
 * without reading the store, so a flip costs a sidecar no round trip; a push that is not a readable
 * document (an announcement `<epoch>:<generation>`, or anything else) makes the sidecar read the store.
 * Checks run one at a time; a request during one makes exactly one more.
 *
 * What it applies: only what `progress.ts` judges newer — never backwards on its own (an empty,
 * reset or older store keeps the current policy, with a warning). A generation the callback refuses
 * is remembered and not retried on every poll; the next one is evaluated as usual.
 */
import type { Logger } from 'pino';
import type { Diagnostic } from '../config/index.js';
import { wallMs, type OfferMarks } from '../core/policy-source.js';
import { formatDiagnostic } from '../config/index.js';
import { judge, warningOf, type Position } from './progress.js';
import { InvalidGenerationError, parseGeneration, type FleetStore, type Generation, type StoreHead } from './store.js';

export interface ApplyOutcome {
  readonly result: 'ok' | 'unchanged' | 'error';
  readonly errors?: readonly Diagnostic[] | undefined;
}

/** A stored document that is not a readable generation (written into Redis around `publish`). */
export interface UnreadableGeneration {
  readonly generation: number;
  readonly epoch: string;
  /** Why it cannot be read. */
  readonly unreadable: string;
}

export interface FleetWatcherOptions {
  readonly store: FleetStore;
  /**
   * Applies a generation's policy text (validate → build → swap) and says how it went; an
   * unreadable one is offered too, so it is refused and reported on the same path. `marks` (a
   * pushed generation, at debug level) are to be stamped on the way (`PolicyOffer.marks`).
   */
  readonly apply: (g: Generation | UnreadableGeneration, marks?: OfferMarks) => Promise<ApplyOutcome>;
  readonly log: Logger;
  /** Safety poll period, ms. Default 2 000 (SPEC §9: at most 5 s). */
  readonly pollMs?: number;
  /** How long `start` waits for Redis before carrying on without it, ms. Default 1 000. */
  readonly startTimeoutMs?: number;
  /** Called when anything a report shows changed (applied, refused, warning). */
  readonly onChange?: () => void;
}

export interface Served extends Position {
  readonly hash: string;
}

export interface FleetError {
  /** The refused generation (null when even its number could not be read). */
  readonly generation: number | null;
  readonly at: Date;
  readonly message: string;
}

export class FleetWatcher {
  private served: Served | undefined;
  private head: StoreHead | undefined;
  private warning: string | undefined;
  private failure: FleetError | undefined;
  private refused: Position | undefined;
  private readonly abandoned = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  /** The latest document pushed on the channel and not looked at yet. */
  private pushed: Generation | undefined;
  /** At debug level: when that push was received and parsed, for its `fleet: flip` line. */
  private pushedMarks: OfferMarks | undefined;
  private stopped = false;
  private readonly offs: Array<() => void> = [];

  constructor(private readonly o: FleetWatcherOptions) {}

  /** Subscribes, starts the safety poll, and applies what the store holds if Redis answers within `startTimeoutMs`. */
  async start(): Promise<void> {
    const { store } = this.o;
    store.link.subscribe(store.keys.events, (message) => this.onPush(message));
    this.offs.push(store.link.onReady(() => void this.check()));
    this.offs.push(store.link.onDown(() => this.o.onChange?.()));
    this.timer = setInterval(() => void this.check(), this.o.pollMs ?? 2000);
    this.timer.unref();
    if (await store.link.whenReady(this.o.startTimeoutMs ?? 1000)) await this.check();
    else this.o.log.warn({ redis: store.link.target, err: store.link.lastError }, 'fleet: Redis not reachable at start; serving the policy file until it is');
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const off of this.offs.splice(0)) off();
  }

  get connected(): boolean { return this.o.store.link.connected; }
  /** The fleet generation applied, if any. */
  get serving(): Served | undefined { return this.served; }
  /** Where the store was at the last successful read. */
  get store(): StoreHead | undefined { return this.head; }
  /** Why the current policy is kept although the store says otherwise. */
  get warningText(): string | undefined { return this.warning; }
  get lastError(): FleetError | undefined { return this.failure; }

  /** Looks at the store now (coalesced with a check in progress). */
  check(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) { this.again = true; return this.running; }
    const run = async (): Promise<void> => {
      do {
        this.again = false;
        await this.checkOnce();
      } while (this.again && !this.stopped);
    };
    this.running = run().finally(() => { this.running = undefined; });
    return this.running;
  }

  /** A message on the fleet's channel: a whole document is looked at as it is, anything else means "read the store". */
  private onPush(message: string): void {
    if (message.startsWith('{')) {
      // Where a flip's time goes, step by step (bench:fleet's BENCH_TRACE=1 reads the `fleet: flip`
      // line): stamped only at debug level, free otherwise.
      const received = this.o.log.isLevelEnabled('debug') ? wallMs() : undefined;
      try {
        this.pushed = parseGeneration(message);
        this.pushedMarks = received === undefined ? undefined : { received, parsed: wallMs() };
      } catch {
        this.pushed = undefined; // not ours to report: the store's copy is what gets judged and refused
        this.pushedMarks = undefined;
      }
    }
    void this.check();
  }

  private async checkOnce(): Promise<void> {
    const { store } = this.o;
    let head: StoreHead;
    let g: Generation | undefined;
    const pushed = this.pushed;
    let marks = this.pushedMarks;
    this.pushed = undefined;
    this.pushedMarks = undefined;
    try {
      if (pushed) {
        // A push no newer than what a read already applied (the two connections' data can be
        // handled in either order): nothing to do, and no reason to think the store went back.
        if (this.served?.epoch === pushed.epoch && pushed.generation <= this.served.generation) return;
        head = { generation: pushed.generation, epoch: pushed.epoch };
        this.head = head;
        if (!this.judgeAndWarn(head)) return;
        g = pushed;
      } else {
        head = await store.head();
        this.head = head;
        if (!this.judgeAndWarn(head)) return;
        // A push of the very generation the head names arrived during the read (a poll or a
        // re-read racing a publish): it is applied as pushed, without a second round trip for it.
        const late = this.pushed as Generation | undefined;
        if (late && late.epoch === head.epoch && late.generation === head.generation) {
          this.pushed = undefined;
          marks = this.pushedMarks;
          this.pushedMarks = undefined;
          g = late;
        } else g = await store.current();
      }
    } catch (err) {
      if (err instanceof InvalidGenerationError) { await this.unreadable(this.head!, err); return; }
      // Unreachable or failing Redis: keep serving; reconnection or the next poll tries again.
      this.o.log.debug({ err: (err as Error).message }, 'fleet: store not read');
      return;
    }
    if (!g || !this.judgeAndWarn({ generation: g.generation, epoch: g.epoch })) return; // moved between the two reads
    const outcome = await this.o.apply(g, marks);
    if (marks) this.o.log.debug({ fleetGeneration: g.generation, result: outcome.result, ...marks }, 'fleet: flip');
    if (outcome.result === 'error') {
      this.refuse({ generation: g.generation, epoch: g.epoch }, g.generation, (outcome.errors ?? []).map(formatDiagnostic));
      return;
    }
    if (this.served && this.served.epoch !== g.epoch) {
      this.abandoned.add(this.served.epoch);
      this.o.log.warn({ from: this.served, to: { epoch: g.epoch, generation: g.generation } }, 'fleet: the store was reset and published again; following its new epoch');
    }
    this.served = { epoch: g.epoch, generation: g.generation, hash: g.hash };
    this.failure = undefined;
    this.warning = undefined;
    this.o.onChange?.();
  }

  /** Whether `head` should be applied; records (and logs, once) a warning when it is kept back. */
  private judgeAndWarn(head: StoreHead): boolean {
    const verdict = judge(this.served, head, { abandoned: this.abandoned, refused: this.refused });
    const warning = warningOf(verdict, this.served, head);
    if (warning !== this.warning) {
      this.warning = warning;
      if (warning) this.o.log.warn({ store: head, serving: this.served }, `fleet: ${warning}`);
      this.o.onChange?.();
    }
    return verdict.kind === 'apply';
  }

  private async unreadable(head: StoreHead, err: InvalidGenerationError): Promise<void> {
    const generation = err.generation ?? head.generation;
    const at = { generation, epoch: head.epoch ?? '' };
    if (this.refused?.epoch === at.epoch && this.refused.generation === generation) return; // reported already
    const outcome = await this.o.apply({ ...at, unreadable: err.message });
    this.refuse(at, generation, outcome.errors?.length ? outcome.errors.map(formatDiagnostic) : [err.message]);
  }

  private refuse(at: StoreHead, generation: number, messages: readonly string[]): void {
    this.refused = { epoch: at.epoch ?? '', generation };
    this.failure = { generation, at: new Date(), message: messages.slice(0, 3).join('; ') || 'refused' };
    this.o.log.error({ fleetGeneration: generation, errors: messages }, 'fleet: generation refused; keeping the last good policy');
    this.o.onChange?.();
  }
}
