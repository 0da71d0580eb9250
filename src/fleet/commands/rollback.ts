/**
 * `pilotfish rollback --fleet URL [--fleet-key K] [--to N] [--json]` (SPEC §2, §9): republishes an
 * earlier generation — `--to N`, else the one before the current — as a new generation, so the
 * number still only grows and the history tells what happened. Without `--to` it toggles between
 * the last two, like `kubectl rollout undo`.
 *
 * The work is `../rollback.ts`; exit codes: 0 published, 1 nothing to roll back to (or Redis
 * unreachable), 2 usage, 3 someone published meanwhile (nothing published).
 */
import { parseArgs } from 'node:util';
import { processIo, type CommandIo } from '../../kube/command-io.js';
import { rollback } from '../rollback.js';
import { EXIT, FLEET_OPTIONS, fleetTarget, openStore, publisher } from './connect.js';
import { reportPublished } from './publish.js';

export const ROLLBACK_USAGE = `usage: pilotfish rollback --fleet URL [--fleet-key K] [--to N] [--json]
        republish an earlier generation (default: the one before the current) as a new generation
`;

const ATTEMPTS = 3;

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
    // With --to the target is absolute: a conflict is retried. Without, "the one before the
    // current" changed meaning when someone published: exit 3 and let the operator look again.
    for (let attempt = 1; ; attempt++) {
      const r = await rollback(store, to, publisher(env));
      if (r.kind === 'published') { reportPublished(store, r.generation, values.json, io); return EXIT.ok; }
      if (r.kind === 'refused') { for (const m of r.messages) io.stderr(`pilotfish rollback: ${m}\n`); return EXIT.failed; }
      if (to !== undefined && attempt < ATTEMPTS) continue;
      io.stderr(`pilotfish rollback: fleet ${store.fleet} moved to generation ${r.now} while rolling back from ${r.from}: nothing published\n`);
      return EXIT.conflict;
    }
  } catch (err) {
    io.stderr(`pilotfish rollback: ${(err as Error).message}\n`);
    return EXIT.failed;
  } finally {
    await store.link.close();
  }
}
