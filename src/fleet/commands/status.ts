/**
 * `pilotfish fleet status --fleet URL [--fleet-key K] [--wait D] [--json]` (SPEC §2, §9): the
 * fleet's generation and history, and every live sidecar's applied generation, last error, address
 * and last report. Exit 0 when every live sidecar serves the current generation (with `--wait`,
 * as soon as that is so, polling up to D); else 1 — also when no sidecar reports at all, since "all
 * of none" is no answer a script waiting for a rollback should act on.
 */
import { parseArgs } from 'node:util';
import { formatDuration, parseDuration } from '../../config/index.js';
import { processIo, type CommandIo } from '../../kube/command-io.js';
import { REPORT_TTL_MS, type SidecarReport } from '../report.js';
import { metaOf, type FleetStore, type GenerationMeta, type StoreHead } from '../store.js';
import { EXIT, FLEET_OPTIONS, fleetTarget, openStore, shortHash } from './connect.js';

export const FLEET_USAGE = `usage: pilotfish fleet status --fleet URL [--fleet-key K] [--wait DURATION] [--json]
        the fleet's generation and history, and each live sidecar's applied generation and last
        error; exit 0 when every live sidecar serves the current generation (--wait polls up to
        DURATION for that), else 1
`;

const POLL_MS = 100;
const HISTORY_SHOWN = 10;

export interface SidecarStatus extends SidecarReport {
  /** When it last reported, ms before the status was read (by the server's clock). */
  readonly reportedMsAgo: number;
  /** Whether it serves the store's current generation (same epoch and number). */
  readonly current: boolean;
}

export interface FleetStatus {
  readonly fleet: string;
  readonly url: string;
  readonly generation: number;
  readonly epoch: string | null;
  /** The current generation's metadata, null for a store nothing was published to. */
  readonly published: GenerationMeta | null;
  readonly history: GenerationMeta[];
  readonly sidecars: SidecarStatus[];
  /** Every live sidecar (at least one) serves the current generation. */
  readonly converged: boolean;
}

export async function fleetCommand(args: string[], io: CommandIo = processIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const usage = (message: string): number => { io.stderr(`pilotfish fleet: ${message}\n\n${FLEET_USAGE}`); return EXIT.usage; };
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { ...FLEET_OPTIONS, wait: { type: 'string' } } });
  } catch (err) {
    return usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) { io.stdout(FLEET_USAGE); return EXIT.ok; }
  if (positionals[0] !== 'status' || positionals.length > 1) return usage(positionals[0] ? `unknown subcommand "${positionals.join(' ')}"` : 'no subcommand (status)');
  const target = fleetTarget(values, env);
  if (typeof target === 'string') return usage(target);
  const waitMs = values.wait === undefined ? 0 : parseDuration(values.wait);
  if (waitMs === undefined) return usage(`invalid --wait "${values.wait}" (e.g. 5s)`);
  const store = await openStore(target, 'fleet status', io);
  if (!store) return EXIT.failed;
  try {
    const deadline = performance.now() + waitMs;
    let status = await readStatus(store);
    while (!status.converged && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(0, deadline - performance.now()))));
      status = await readStatus(store);
    }
    io.stdout(values.json ? `${JSON.stringify(status, null, 2)}\n` : render(status, waitMs));
    return status.converged ? EXIT.ok : EXIT.failed;
  } catch (err) {
    io.stderr(`pilotfish fleet status: ${(err as Error).message}\n`);
    return EXIT.failed;
  } finally {
    await store.link.close();
  }
}

export async function readStatus(store: FleetStore): Promise<FleetStatus> {
  const [head, history, live] = await Promise.all([store.head(), store.history(), store.live<SidecarReport>(REPORT_TTL_MS)]);
  const sidecars = live.sidecars.map(({ report, reportedAt }) => ({
    ...report, reportedMsAgo: Math.max(0, live.now - reportedAt), current: serves(report, head),
  })).sort((a, b) => a.address.localeCompare(b.address) || a.id.localeCompare(b.id));
  const current = history[0]?.generation === head.generation && history[0]?.epoch === head.epoch ? history[0] : undefined;
  return {
    fleet: store.fleet, url: store.link.target, generation: head.generation, epoch: head.epoch ?? null,
    published: current ? metaOf(current) : null, history: history.map(metaOf), sidecars,
    converged: sidecars.length > 0 && sidecars.every((s) => s.current),
  };
}

function serves(r: SidecarReport, head: StoreHead): boolean {
  return head.generation > 0 && r.generation === head.generation && r.epoch === head.epoch;
}

function render(s: FleetStatus, waitMs: number): string {
  const lines: string[] = [];
  if (s.generation === 0) lines.push(`fleet ${s.fleet} on ${s.url}: nothing published yet`);
  else {
    lines.push(`fleet ${s.fleet} on ${s.url}: generation ${s.generation} (epoch ${s.epoch})`);
    if (s.published) lines.push(`  published ${s.published.publishedAt} by ${s.published.publishedBy}${s.published.message ? `: ${s.published.message}` : ''} (sha256 ${shortHash(s.published.hash)})`);
  }
  if (s.history.length > 0) {
    lines.push('', 'history (newest first):');
    lines.push(...table(['GEN', 'PUBLISHED', 'BY', 'SHA256', 'MESSAGE'], s.history.slice(0, HISTORY_SHOWN).map((g) => [
      String(g.generation), g.publishedAt, g.publishedBy, shortHash(g.hash), g.message,
    ])));
    if (s.history.length > HISTORY_SHOWN) lines.push(`  … ${s.history.length - HISTORY_SHOWN} more (--json shows all)`);
  }
  const on = s.sidecars.filter((x) => x.current).length;
  lines.push('', `sidecars: ${s.sidecars.length} live, ${on} serving generation ${s.generation}`);
  if (s.sidecars.length > 0) {
    lines.push(...table(['ADDRESS', 'ID', 'SERVES', 'REPORTED', 'LAST ERROR / WARNING'], s.sidecars.map((x) => [
      x.address, x.id, x.generation === null ? 'file' : `${x.generation}${x.epoch !== s.epoch ? ` (epoch ${x.epoch})` : ''}`,
      `${formatDuration(Math.round(x.reportedMsAgo))} ago`,
      [x.lastError && `generation ${x.lastError.generation ?? '?'} refused: ${x.lastError.message}`, x.warning].filter(Boolean).join('; ') || '-',
    ])));
  }
  lines.push('', s.converged ? `every live sidecar serves generation ${s.generation}`
    : s.sidecars.length === 0 ? `no live sidecar reports to fleet ${s.fleet}`
      : `${s.sidecars.length - on} of ${s.sidecars.length} live sidecars do not serve generation ${s.generation}${waitMs > 0 ? ` after waiting ${formatDuration(waitMs)}` : ''}`);
  return `${lines.join('\n')}\n`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`;
  return [line(header), ...rows.map(line)];
}
