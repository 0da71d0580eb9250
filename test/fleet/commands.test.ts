/**
 * `publish`, `rollback` and `fleet status` against a real redis-server (with a password), run
 * in-process through their command functions, plus one run of the real CLI per command.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fleetCommand, publishCommand, rollbackCommand, type FleetStatus } from '../../src/fleet/commands/index.js';
import { FleetStore } from '../../src/fleet/store.js';
import { REDIS_SERVER, needs } from '../helpers/system.js';
import { redisLink, useRedis } from '../helpers/redis.js';
import { CLI, writePolicy } from '../helpers/sidecar.js';

const req = needs(REDIS_SERVER);
const SECRET = 'pf-s3cret-Pa55';

const policy = (weight: number): string => `version: 1
upstreams:
  web: { endpoints: [{ address: "127.0.0.1:1", labels: { v: a } }, { address: "127.0.0.1:2", labels: { v: b } }], subsets: { a: { v: a }, b: { v: b } } }
routes:
  - name: web
    match: { host: web }
    to: [{ upstream: web, subset: a, weight: ${100 - weight} }, { upstream: web, subset: b, weight: ${weight} }]
`;

interface Run { code: number; stdout: string; stderr: string }

async function run(fn: typeof publishCommand, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await fn(args, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, readStdin: async () => '' }, { ...env, PILOTFISH_PUBLISHER: 'tester@ci' });
  return { code, stdout, stderr };
}

describe.skipIf(!req.ok)(`fleet commands${req.label}`, () => {
  const redis = useRedis({ password: SECRET });
  let n = 0;
  const fleet = () => ['--fleet', redis.url, '--fleet-key', `cmd-${++n}`];

  it('publish validates exactly as validate does: errors at file:line:col, nothing published', async () => {
    const args = fleet();
    const bad = await writePolicy(policy(10).replace('weight: 10 }', 'weight: 20 }'));
    const r = await run(publishCommand, [bad, ...args]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:7:9 routes\\[0\\]\\.to: weights sum to 110, not 100$`, 'm'));
    expect(r.stderr).toContain('nothing published');
    const store = new FleetStore(await redisLink(redis.url), args[3]!);
    expect(await store.head()).toEqual({ generation: 0, epoch: undefined });
  });

  it('publish: the next generation with who, when, message and hash; --json; --expect-generation → exit 3 and nothing published', async () => {
    const args = fleet();
    const file = await writePolicy(policy(10));
    const first = await run(publishCommand, [file, ...args, '--message', 'canary 10%', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const doc = JSON.parse(first.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({ generation: 1, message: 'canary 10%', publishedBy: 'tester@ci', rollbackOf: null, fleet: args[3], url: `redis://127.0.0.1:${redis.server.port}` });
    expect(doc.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(doc).not.toHaveProperty('policy');

    const conflict = await run(publishCommand, [file, ...args, '--expect-generation', '0']);
    expect(conflict).toMatchObject({ code: 3, stdout: '' });
    expect(conflict.stderr).toMatch(/is at generation 1, not 0: nothing published/);
    const second = await run(publishCommand, [file, ...args, '--expect-generation', '1', '-m', 'again']);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^published generation 2 of fleet cmd-\d+ \(redis:\/\/127\.0\.0\.1:\d+\), sha256 [0-9a-f]{12}: again\n$/);
  });

  it('concurrent publishers with --expect-generation: one wins each round, the other exits 3; no update is lost', async () => {
    const args = fleet();
    const files = await Promise.all([writePolicy(policy(10)), writePolicy(policy(20))]);
    let wins = 0;
    for (let round = 0; round < 10; round++) {
      const codes = await Promise.all(files.map(async (f) => (await run(publishCommand, [f, ...args, '--expect-generation', String(wins)])).code));
      expect(codes.sort()).toEqual([0, 3]);
      wins++;
    }
    const store = new FleetStore(await redisLink(redis.url), args[3]!);
    expect((await store.head()).generation).toBe(10);
    expect((await store.history()).map((g) => g.generation)).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  });

  it('rollback republishes the one before the current (toggling like rollout undo), or --to N, as a new generation', async () => {
    const args = fleet();
    for (const w of [0, 10, 50]) expect((await run(publishCommand, [await writePolicy(policy(w)), ...args])).code).toBe(0);
    const store = new FleetStore(await redisLink(redis.url), args[3]!);
    const [g3, g2, g1] = await store.history();
    const back = await run(rollbackCommand, [...args, '--json']);
    expect(back.code, back.stderr).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ generation: 4, rollbackOf: 2, hash: g2!.hash, message: 'rollback to generation 2' });
    expect((await store.current())?.policy).toBe(g2!.policy);
    expect((await run(rollbackCommand, args)).code).toBe(0); // undo the undo: back to 3's policy
    expect(await store.current()).toMatchObject({ generation: 5, rollbackOf: 3, hash: g3!.hash });
    const to1 = await run(rollbackCommand, [...args, '--to', '1']);
    expect(to1.stdout).toMatch(/^published generation 6 .*: rollback to generation 1\n$/);
    expect((await store.current())?.policy).toBe(g1!.policy);
    expect(await run(rollbackCommand, [...args, '--to', '99'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/generation 99 is not in the history \(it keeps 1–6\)/) });
    expect(await run(rollbackCommand, [...args, '--to', '6'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/generation 6 is the current one/) });
    expect(await run(rollbackCommand, fleet())).toMatchObject({ code: 1, stderr: expect.stringMatching(/has no generation: nothing to roll back/) });
  });

  it('fleet status: generation, history; exit 1 with no live sidecar; usage errors exit 2', async () => {
    const args = fleet();
    expect((await run(publishCommand, [await writePolicy(policy(0)), ...args, '-m', 'first'])).code).toBe(0);
    const r = await run(fleetCommand, ['status', ...args, '--json']);
    expect(r.code).toBe(1);
    const s = JSON.parse(r.stdout) as FleetStatus;
    expect(s).toMatchObject({ fleet: args[3], generation: 1, sidecars: [], converged: false, published: { generation: 1, message: 'first' } });
    expect(s.history).toHaveLength(1);
    const text = await run(fleetCommand, ['status', ...args]);
    expect(text.stdout).toMatch(/generation 1 \(epoch [0-9a-f]{16}\)/);
    expect(text.stdout).toMatch(/no live sidecar reports to fleet/);
    expect((await run(fleetCommand, ['stats', ...args])).code).toBe(2);
    expect((await run(fleetCommand, ['status'])).stderr).toMatch(/no fleet: give --fleet/);
    expect((await run(fleetCommand, ['status', '--fleet', 'http://x'])).code).toBe(2);
    expect((await run(fleetCommand, ['status', ...args, '--fleet-key', 'bad key'])).stderr).toMatch(/invalid fleet key/);
  });

  it('the URL can come from PILOTFISH_FLEET and PILOTFISH_FLEET_KEY; a wrong password is reported without any password', async () => {
    const file = await writePolicy(policy(0));
    const viaEnv = await run(publishCommand, [file], { PILOTFISH_FLEET: redis.url, PILOTFISH_FLEET_KEY: 'from-env' });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(viaEnv.stdout).toMatch(/fleet from-env/);
    const wrong = await run(publishCommand, [file, '--fleet', `redis://:not-${SECRET}@127.0.0.1:${redis.server.port}`]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+: WRONGPASS/);
    for (const out of [viaEnv, wrong]) expect(out.stdout + out.stderr).not.toContain(SECRET);
  });

  it('the real CLI: publish and fleet status exit with their codes and never print the password', async () => {
    const args = fleet();
    const file = await writePolicy(policy(10));
    const cli = (...a: string[]) => spawnCli(a);
    expect(await cli('publish', file, ...args)).toMatchObject({ code: 0 });
    expect(await cli('publish', file, ...args, '--expect-generation', '7')).toMatchObject({ code: 3 });
    const status = await cli('fleet', 'status', ...args);
    expect(status.code).toBe(1);
    for (const r of [status]) expect(r.stdout + r.stderr).not.toContain(SECRET);
  }, 60_000);
});

function spawnCli(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c; });
    child.stderr.on('data', (c: Buffer) => { stderr += c; });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
