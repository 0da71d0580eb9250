/**
 * The chaos runner's fleets: several real sidecars on one fleet with the runner's own redis-server,
 * `publish` and `rollback` actions, hypotheses per sidecar — and where redis-server is missing, the
 * suite is skipped with the reason (an error under PILOTFISH_REQUIRE_SYSTEM=1, as CI runs).
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { chaosCommand } from '../../src/chaos/index.js';
import type { SuiteJournal } from '../../src/chaos/journal.js';
import { waitFor } from '../helpers/http.js';
import { CLI } from '../helpers/sidecar.js';
import { REDIS_SERVER, needs } from '../helpers/system.js';

const req = needs(REDIS_SERVER);

const SUITE = `name: fleet basics
environment:
  local:
    fleet: { sidecars: 2, key: basics }
    upstreams:
      blue: { replicas: 1, labels: { version: blue } }
      green: { replicas: 1, labels: { version: green } }
    policy:
      version: 1
      upstreams:
        web:
          endpoints: [{ address: "\${upstreams.blue[0]}", labels: { version: blue } }, { address: "\${upstreams.green[0]}", labels: { version: green } }]
          subsets: { blue: { version: blue }, green: { version: green } }
      routes:
        - { name: web, match: { host: web }, to: [{ upstream: web, subset: blue }] }
experiments:
  - name: publish green, roll back
    inject:
      - at: 500ms
        publish: { inline: { version: 1, upstreams: { web: { endpoints: [{ address: "\${upstreams.blue[0]}", labels: { version: blue } }, { address: "\${upstreams.green[0]}", labels: { version: green } }], subsets: { blue: { version: blue }, green: { version: green } } } }, routes: [{ name: web, match: { host: web }, to: [{ upstream: web, subset: green }] }] }, message: green }
      - at: 3500ms
        rollback: {}
    load: { request: { host: web }, rate: 100, duration: 4500ms }
    expect:
      - successRate: "== 100%"
      - { each: sidecar, window: { before: publish }, share: { by: version, values: { blue: "== 100%" } } }
      - { each: sidecar, window: { after: publish, from: 500ms, before: rollback }, share: { by: version, values: { green: "== 100%" } } }
      - { each: sidecar, window: { after: rollback, from: 500ms }, share: { by: version, values: { blue: "== 100%" } } }
      - metrics: ["pilotfish_fleet_generation == 3"]
`;

async function run(text: string): Promise<{ code: number; stdout: string; stderr: string; journal: SuiteJournal }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pilotfish-chaos-fleet-'));
  const file = path.join(dir, 'suite.yaml');
  await writeFile(file, text);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => { out += c.toString(); });
  stderr.on('data', (c: Buffer) => { err += c.toString(); });
  const code = await chaosCommand([file, '--json', path.join(dir, 'journal.json')], { cli: CLI, stdout, stderr, handleSignals: false });
  const { suites: [journal] } = JSON.parse(await readFile(path.join(dir, 'journal.json'), 'utf8')) as { suites: SuiteJournal[] };
  return { code, stdout: out, stderr: err, journal: journal! };
}

const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true; } catch { return false; }
};

describe('chaos fleets', () => {
  // The publish is a CLI process: on a loaded machine it may take a second or two to land, so the
  // green window (500 ms after it lands until the rollback) is given 2.5 s rather than 1.
  it.skipIf(!req.ok)(`several sidecars on one fleet: publish, rollback, per-sidecar hypotheses; everything cleaned up${req.label}`, async () => {
    const r = await run(SUITE);
    expect(r.stdout.split('\n').filter((l) => l.includes('✘'))).toEqual([]);
    expect(r.code).toBe(0);
    const phase = r.journal.phases.find((p) => p.name === 'publish green, roll back')!;
    expect(phase.actions.map((a) => `${a.step} ${a.description}`)).toEqual([
      'inject publish inline policy as generation 2 (green)',
      'inject rollback to generation 1 as generation 3',
      'undo publish inline policy as generation 2 (green)',
    ]);
    expect(phase.hypotheses.filter((h) => h.name.startsWith('sidecar[1] '))).toHaveLength(3);
    const env = r.journal.environment as { sidecars: Array<{ pid: number }>; fleet: { redisPid: number } };
    expect(env.sidecars).toHaveLength(2);
    for (const pid of [...env.sidecars.map((s) => s.pid), env.fleet.redisPid]) await waitFor(() => !alive(pid), { what: `process ${pid} to be gone` });
  }, 60_000);

  it('without redis-server the fleet suite is skipped, with the reason; under PILOTFISH_REQUIRE_SYSTEM=1 it is an error', async () => {
    const saved = { PATH: process.env.PATH, REQUIRE: process.env.PILOTFISH_REQUIRE_SYSTEM };
    try {
      process.env.PATH = path.join(tmpdir(), 'no-such-bin');
      delete process.env.PILOTFISH_REQUIRE_SYSTEM;
      const skipped = await run(SUITE);
      expect(skipped.code).toBe(0);
      expect(skipped.journal).toMatchObject({ outcome: 'skipped', skipped: 'needs redis-server (install: apt-get install -y redis-server)' });
      expect(skipped.stdout).toMatch(/fleet basics\s+—\s+SKIP/);
      expect(skipped.stdout).toMatch(/0\/1 suite\(s\) passed, 1 skipped\n\nskipped:\n {2}- fleet basics: needs redis-server/);
      process.env.PILOTFISH_REQUIRE_SYSTEM = '1';
      const required = await run(SUITE);
      expect(required.code).toBe(2);
      expect(required.journal.errors).toEqual(['PILOTFISH_REQUIRE_SYSTEM=1 but needs redis-server (install: apt-get install -y redis-server)']);
    } finally {
      process.env.PATH = saved.PATH;
      if (saved.REQUIRE === undefined) delete process.env.PILOTFISH_REQUIRE_SYSTEM; else process.env.PILOTFISH_REQUIRE_SYSTEM = saved.REQUIRE;
    }
  });
});
