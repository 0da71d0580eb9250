/**
 * Live progress while a suite runs. On a terminal: one status line redrawn four times a second
 * (phase, elapsed, requests, errors, p99), with actions and results printed above it. Elsewhere (CI
 * logs): plain lines — phase start, each action, a status line per second, the result.
 */
import type { Writable } from 'node:stream';
import { formatObserved } from './comparison.js';
import type { ActionRecord, PhaseRecord, ProgressListener } from './journal.js';
import { isSuccess, percentile, type RequestSample } from './samples.js';

export interface ProgressOptions {
  readonly out: Writable & { isTTY?: boolean };
  /** Redraw (TTY) or status-line (plain) period, ms. Defaults 250 / 1000. */
  readonly intervalMs?: number;
}

export function createProgressReporter(o: ProgressOptions): ProgressListener & { close(): void } {
  const tty = o.out.isTTY === true;
  const period = o.intervalMs ?? (tty ? 250 : 1000);
  let current: { phase: PhaseRecord; label: string; started: number; requests: number; errors: number; latencies: number[] } | undefined;
  let timer: NodeJS.Timeout | undefined;
  const status = (): string => {
    if (!current) return '';
    const { label, started, requests, errors, latencies } = current;
    const elapsed = ((performance.now() - started) / 1000).toFixed(1);
    const p99 = latencies.length ? formatObserved(percentile(Float64Array.from(latencies).sort(), 99), 'ms') : '–';
    return `${label}  ${elapsed}s  req ${requests}  err ${errors}  p99 ${p99}`;
  };
  const print = (line: string): void => {
    o.out.write(tty ? `\r\x1b[2K${line}\n${status()}` : `${line}\n`);
  };
  return {
    phaseStarted(phase, index, total) {
      current = { phase, label: `[${index + 1}/${total}] ${phaseTitle(phase)}`, started: performance.now(), requests: 0, errors: 0, latencies: [] };
      if (!tty) o.out.write(`▶ ${current.label}\n`);
      timer = setInterval(() => (tty ? o.out.write(`\r\x1b[2K${status()}`) : (current!.requests > 0 && o.out.write(`  ${status()}\n`))), period);
      timer.unref();
    },
    sample(s: RequestSample) {
      if (!current) return;
      current.requests++;
      if (!isSuccess(s)) current.errors++;
      current.latencies.push(s.latency);
    },
    action(a: ActionRecord) {
      print(`    +${(a.at / 1000).toFixed(2)}s ${a.step} ${a.description}${a.error ? ` — FAILED: ${a.error}` : ''}`);
    },
    phaseFinished(phase) {
      clearInterval(timer);
      const failed = phase.hypotheses.filter((h) => !h.ok);
      if (tty) o.out.write('\r\x1b[2K');
      o.out.write(`${phase.ok ? '✔' : '✘'} ${phaseTitle(phase)}  ${(phase.durationMs / 1000).toFixed(1)}s  ${phase.hypotheses.length - failed.length}/${phase.hypotheses.length} hypotheses hold\n`);
      for (const h of failed) o.out.write(`    ✘ ${h.message ?? h.name}\n`);
      current = undefined;
    },
    close() {
      clearInterval(timer);
    },
  };
}

export function phaseTitle(p: PhaseRecord): string {
  return p.kind === 'experiment' ? p.name : `steady state ${p.kind === 'steady-state-before' ? 'before' : 'after'}: ${p.name}`;
}
