/**
 * `createMesh({ fleet })` (SPEC §9 + §10): the mesh follows a fleet's published policy through the
 * same policy source and precedence as a sidecar — the given policy is the bootstrap, the fleet's
 * current generation wins at start, a new generation is served within the watcher's reach.
 *
 * "Wins at start" holds when Redis answered within the start's wait (1 s, as a sidecar's): then the
 * first call is served on the fleet's policy. On a loaded machine the connection (or the first read)
 * can take longer — a timing, not a behaviour — and the start then says so in its log and serves the
 * bootstrap until the fleet's policy arrives: the test asserts whichever of the two the log says
 * happened, each strictly, and never waits a fixed time.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createMesh } from '../../src/index.js';
import { colorPolicy, colorUpstream, publish } from '../helpers/fleet.js';
import { waitFor } from '../helpers/http.js';
import { useRedis } from '../helpers/redis.js';
import { TEST_ENGINE } from '../helpers/sidecar.js';
import { REDIS_SERVER, needs } from '../helpers/system.js';

const req = needs(REDIS_SERVER);

describe.skipIf(!req.ok)(`library mode in a fleet${req.label}`, () => {
  const redis = useRedis();

  it('serves the fleet\'s generation over its bootstrap policy, and follows a publish', { timeout: 60_000 }, async () => {
    const blue = await colorUpstream('blue');
    const green = await colorUpstream('green');
    const up = { blue, green };
    try {
      await publish(redis.url, 'lib', colorPolicy('green', up));
      const lines: string[] = [];
      const log = pino({ level: 'debug' }, new Writable({ write(chunk, _enc, done) { lines.push(String(JSON.parse(String(chunk)).msg)); done(); } }));
      const mesh = await createMesh({ policy: colorPolicy('blue', up), fleet: redis.url, fleetKey: 'lib', engine: TEST_ENGINE, log });
      try {
        // The start gave up waiting for Redis, or its read of the store failed: it says so, and serves the bootstrap.
        const late = lines.some((m) => m.startsWith('fleet: Redis not reachable at start') || m === 'fleet: store not read');
        const first = await (await mesh.fetch('http://web/')).text();
        if (late) {
          expect(first).toBe('blue');
          await waitFor(async () => (await (await mesh.fetch('http://web/')).text()) === 'green', { timeoutMs: 15_000, what: 'the fleet\'s generation after a late start' });
        } else {
          expect(first).toBe('green');
          expect(await mesh.metrics()).toMatch(/^pilotfish_fleet_generation 1$/m);
        }
        await publish(redis.url, 'lib', colorPolicy('blue', up, '    retries: { attempts: 1 }\n'));
        await waitFor(async () => (await (await mesh.fetch('http://web/')).text()) === 'blue', { timeoutMs: 15_000, what: 'the published generation' });
        expect(await mesh.metrics()).toMatch(/^pilotfish_fleet_generation 2$/m);
      } finally {
        await mesh.close();
      }
    } finally {
      await blue.close();
      await green.close();
    }
  });
});
