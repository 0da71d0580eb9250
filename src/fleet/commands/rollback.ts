/**
 * `pilotfish rollback --fleet URL [--fleet-key K] [--to N] [--json]` (SPEC §2, §9): republishes an
 * earlier generation — `--to N`, else the one before the current — as a new generation, so the
 * number still only grows and the history tells what happened. Without `--to` it toggles between
 * the last two, like `kubectl rollout undo`.
 *
 * The publish is compare-and-set against the generation the rollback read: a publish that lands in
 * between is never overwritten silently. With `--to N` the rollback reads again and retries (N is
 * absolute); without, "the one before the current" has changed meaning, so it exits 3.
 */
import { parseArgs } from 'node:util';
import { formatDiagnostic, parsePolicy } from '../../config/index.js';
import { processIo, type CommandIo } from '../../kube/command-io.js';
import type { FleetStore, Generation } from '../store.js';
import { EXIT, FLEET_OPTIONS, fleetTarget, openStore, publisher } from './connect.js';
import { reportPublished } from './publish.js';

export const ROLLBACK_USAGE = `usage: pilotfish rollback --fleet URL [--fleet-key K] [--to N] [--json]
        republish an earlier generation (default: the one before the current) as a new generation
`;

const RETRIES = 3;

export async function rollbackCommand(args: string[], io: CommandIo = processIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const usage = (message: string): number => { io.stderr(`pilotfish rollback: ${message}\n\n${ROLLBACK_USAGE}`); return EXIT.usage; };
  let values;
  try {
    ({ values } = parseArgs({ args, options: { ...FLEET_OPTIONS, to: { type: 'string' } } }));
  } catch (err) {
    return usage((err as Error).message);
  }
  if (values.help) { io.stdout(ROLLBACK_USAGE); return EXIT.ok; }
  const target = fleetTarget(values, env);
  if (typeof target === 'string') return usage(target);
  if (values.to !== undefined && !/^\d+$/.test(values.to)) return usage(`--to takes a generation number, got "${values.to}"`);
  const to = values.to === undefined ? undefined : Number(values.to);
  const store = await openStore(target, 'rollback', io);
  if (!store) return EXIT.failed;
  try {
    for (let attempt = 1; ; attempt++) {
      const code = await rollbackOnce(store, to, { json: values.json, by: publisher(env) }, io, attempt < RETRIES && to !== undefined);
      if (code !== 'retry') return code;
    }
  } catch (err) {
    io.stderr(`pilotfish rollback: ${(err as Error).message}\n`);
    return EXIT.failed;
  } finally {
    await store.link.close();
  }
}

async function rollbackOnce(store: FleetStore, to: number | undefined, o: { json: boolean; by: string }, io: CommandIo, mayRetry: boolean): Promise<number | 'retry'> {
  const history = await store.history();
  const current = history[0];
  if (!current) { io.stderr(`pilotfish rollback: fleet ${store.fleet} has no generation: nothing to roll back\n`); return EXIT.failed; }
  const chosen = pick(history, to);
  if (typeof chosen === 'string') { io.stderr(`pilotfish rollback: ${chosen}\n`); return EXIT.failed; }
  // The policy was valid when it was published; it must still be, or every sidecar would refuse it.
  const name = `fleet:${store.fleet}@${chosen.generation}`;
  const checked = parsePolicy(chosen.policy, name, { fleet: true });
  if (!checked.ok) {
    for (const e of checked.errors) io.stderr(`${formatDiagnostic(e)}\n`);
    io.stderr(`pilotfish rollback: generation ${chosen.generation} no longer validates: nothing published\n`);
    return EXIT.failed;
  }
  const r = await store.publish({
    policy: chosen.policy, hash: chosen.hash, publishedBy: o.by, message: `rollback to generation ${chosen.generation}`,
    rollbackOf: chosen.generation, expectGeneration: current.generation,
  });
  if (r.ok) { reportPublished(store, r.generation, o.json, io); return EXIT.ok; }
  if (mayRetry) return 'retry';
  io.stderr(`pilotfish rollback: fleet ${store.fleet} moved to generation ${r.current.generation} while rolling back from ${current.generation}: nothing published\n`);
  return EXIT.conflict;
}

function pick(history: readonly Generation[], to: number | undefined): Generation | string {
  const current = history[0]!;
  if (to === undefined) {
    return history[1] ?? `generation ${current.generation} is the only one in the history: nothing to roll back to`;
  }
  if (to === current.generation) return `generation ${to} is the current one`;
  const found = history.find((g) => g.generation === to);
  if (found) return found;
  const oldest = history[history.length - 1]!.generation;
  return `generation ${to} is not in the history (it keeps ${oldest}–${current.generation})`;
}
