/**
 * `createMesh({ fleet })` (SPEC §9 + §10): the mesh follows a fleet's published policy through the
 * same policy source and precedence as a sidecar — the given policy is the bootstrap, the fleet's
 * current generation wins at start, a new generation is served within the watcher's reach.
 */
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

  it('serves the fleet\'s generation over its bootstrap policy, and follows a publish', async () => {
    const blue = await colorUpstream('blue');
    const green = await colorUpstream('green');
    const up = { blue, green };
    try {
      await publish(redis.url, 'lib', colorPolicy('green', up));
      const mesh = await createMesh({ policy: colorPolicy('blue', up), fleet: redis.url, fleetKey: 'lib', engine: TEST_ENGINE });
      try {
        expect(await (await mesh.fetch('http://web/')).text()).toBe('green');
        await publish(redis.url, 'lib', colorPolicy('blue', up, '    retries: { attempts: 1 }\n'));
        await waitFor(async () => (await (await mesh.fetch('http://web/')).text()) === 'blue', { timeoutMs: 5000, what: 'the published generation' });
        expect(await mesh.metrics()).toMatch(/pilotfish_fleet_/);
      } finally {
        await mesh.close();
      }
    } finally {
      await blue.close();
      await green.close();
    }
  });
});
