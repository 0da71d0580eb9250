/**
 * What each sidecar reports to its fleet (SPEC §9), and when. A report lives `REPORT_TTL_MS` after
 * it was written; a sidecar reports every `REPORT_EVERY_MS` and at once after anything it reports
 * changed (a generation applied or refused, a warning), so `fleet status --wait` sees a rollback
 * arrive within milliseconds, and a sidecar that stopped reporting (killed, partitioned) drops out
 * of the live set within seconds.
 */
import type { Logger } from 'pino';
import { wallMs } from '../core/policy-source.js';
import type { FleetStore } from './store.js';

export const REPORT_EVERY_MS = 2000;
export const REPORT_TTL_MS = 3 * REPORT_EVERY_MS;
/**
 * How long a report waits after a change, ms: the moment a flip is applied belongs to the traffic
 * (the requests waiting on the new policy are served first), and changes in a burst make one write.
 */
export const REPORT_SETTLE_MS = 20;

export interface SidecarReport {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  /** Where it serves: `host:outboundPort` (the pod IP when `POD_IP` is set). */
  readonly address: string;
  readonly ports: Readonly<Record<string, number>>;
  /** Where the policy it serves came from. */
  readonly source: 'file' | 'fleet';
  /** The fleet generation it serves; null while it serves its file. */
  readonly generation: number | null;
  readonly epoch: string | null;
  /** sha256 of the policy text it serves: for a fleet generation, that generation's own `hash`. */
  readonly hash: string;
  /** The last generation it refused, and why (first lines of the diagnostics). */
  readonly lastError: { readonly generation: number | null; readonly at: string; readonly message: string } | null;
  /** Why it keeps a policy the store no longer has (store empty, behind, …), if it does. */
  readonly warning: string | null;
  readonly startedAt: string;
}

/**
 * Writes `report()` every `REPORT_EVERY_MS`, and `REPORT_SETTLE_MS` after `nudge()`. A failed
 * write (Redis down) is simply retried at the next tick: reports are state, not events.
 */
export class Reporter {
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly store: FleetStore, private readonly id: string, private readonly report: () => SidecarReport, private readonly log?: Logger) {}

  start(): void {
    this.timer = setInterval(() => this.now(), REPORT_EVERY_MS);
    this.timer.unref();
    this.now();
  }

  /** Something reported changed: reports shortly (one write for a burst of changes). */
  nudge(): void {
    if (this.stopped || this.soon) return;
    this.soon = setTimeout(() => { this.soon = undefined; this.now(); }, REPORT_SETTLE_MS);
    this.soon.unref();
  }

  /** Reports now (coalesced with a write in progress). */
  private now(): void {
    if (this.stopped) return;
    if (this.writing) { this.again = true; return; }
    this.writing = this.write().finally(() => {
      this.writing = undefined;
      if (this.again) { this.again = false; this.now(); }
    });
  }

  /** Stops reporting and removes the report (a clean shutdown leaves no ghost in `fleet status`). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.soon);
    await this.writing;
    await this.store.leave(this.id).catch(() => {});
  }

  private async write(): Promise<void> {
    try {
      const report = this.report();
      await this.store.heartbeat(this.id, report, REPORT_TTL_MS);
      // When the report reached Redis, against the flip's own steps (`fleet: flip`): bench:fleet's BENCH_TRACE=1.
      if (this.log?.isLevelEnabled('debug')) this.log.debug({ fleetGeneration: report.generation, at: wallMs() }, 'fleet: reported');
    } catch (err) {
      this.log?.debug({ err: (err as Error).message }, 'fleet: report not written');
    }
  }
}
