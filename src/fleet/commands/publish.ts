/**
 * `pilotfish publish FILE --fleet URL [--fleet-key K] [--message M] [--expect-generation N] [--json]`
 * (SPEC §2, §9): FILE is validated exactly as `validate` does — every error as file:line:col, and
 * nothing published when there is one — then published, as written, as the fleet's next generation.
 * Exit codes: 0 published, 1 invalid policy or Redis unreachable, 2 usage, 3 `--expect-generation`
 * did not match (nothing published; the message says where the fleet is).
 */
import { parseArgs } from 'node:util';
import { formatDiagnostic, loadPolicyFile } from '../../config/index.js';
import { processIo, type CommandIo } from '../../kube/command-io.js';
import { publishable } from '../publishable.js';
import { metaOf, type FleetStore, type Generation, type PublishInput } from '../store.js';
import { EXIT, FLEET_OPTIONS, fleetTarget, openStore, publisher, shortHash } from './connect.js';

export const PUBLISH_USAGE = `usage: pilotfish publish FILE --fleet URL [--fleet-key K] [--message M] [--expect-generation N] [--json]
        validate FILE exactly as \`validate\` does and publish it as the fleet's next generation;
        exit 1 on an invalid policy (nothing published), 3 when --expect-generation does not match
`;

export async function publishCommand(args: string[], io: CommandIo = processIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const usage = (message: string): number => { io.stderr(`pilotfish publish: ${message}\n\n${PUBLISH_USAGE}`); return EXIT.usage; };
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { ...FLEET_OPTIONS, message: { type: 'string', short: 'm', default: '' }, 'expect-generation': { type: 'string' } } });
  } catch (err) {
    return usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) { io.stdout(PUBLISH_USAGE); return EXIT.ok; }
  if (positionals.length !== 1) return usage(positionals.length === 0 ? 'no file given' : 'publish takes one file');
  const target = fleetTarget(values, env);
  if (typeof target === 'string') return usage(target);
  const expect = values['expect-generation'];
  if (expect !== undefined && !/^\d+$/.test(expect)) return usage(`--expect-generation takes a generation number, got "${expect}"`);

  const file = positionals[0]!;
  // Published policies run on a fleet: what needs one (shared sessions) is valid here.
  const loaded = await loadPolicyFile(file, { fleet: true });
  for (const w of loaded.warnings) io.stderr(`${formatDiagnostic(w)}\n`);
  if (!loaded.ok) {
    for (const e of loaded.errors) io.stderr(`${formatDiagnostic(e)}\n`);
    io.stderr(`pilotfish publish: ${file} is invalid: nothing published\n`);
    return EXIT.failed;
  }
  const store = await openStore(target, 'publish', io);
  if (!store) return EXIT.failed;
  try {
    return await publishText(store, {
      ...publishable(loaded.source, loaded), publishedBy: publisher(env), message: values.message, rollbackOf: null,
      expectGeneration: expect === undefined ? undefined : Number(expect),
    }, { json: values.json, command: 'publish' }, io);
  } finally {
    await store.link.close();
  }
}

/** Publishes and reports the outcome. */
async function publishText(store: FleetStore, input: PublishInput, o: { json: boolean; command: string }, io: CommandIo): Promise<number> {
  let r;
  try {
    r = await store.publish(input);
  } catch (err) {
    io.stderr(`pilotfish ${o.command}: publishing to ${store.link.target} failed: ${(err as Error).message}\n`);
    return EXIT.failed;
  }
  if (!r.ok) {
    io.stderr(`pilotfish ${o.command}: fleet ${store.fleet} is at generation ${r.current.generation}, not ${input.expectGeneration}: nothing published\n`);
    return EXIT.conflict;
  }
  reportPublished(store, r.generation, o.json, io);
  return EXIT.ok;
}

/** What `publish` and `rollback` print once a generation is in: a line, or the JSON document. */
export function reportPublished(store: FleetStore, g: Generation, json: boolean, io: CommandIo): void {
  io.stdout(json ? `${JSON.stringify(published(store, g), null, 2)}\n` : describe(store, g));
}

function published(store: FleetStore, g: Generation): Record<string, unknown> {
  return { fleet: store.fleet, url: store.link.target, ...metaOf(g) };
}

function describe(store: FleetStore, g: Generation): string {
  return `published generation ${g.generation} of fleet ${store.fleet} (${store.link.target}), sha256 ${shortHash(g.hash)}${g.message ? `: ${g.message}` : ''}\n`;
}
