/**
 * `/config_dump`'s policy is the policy (issue 13.5): saved as a file it validates, loads to the same
 * snapshot hash, and a sidecar reloaded with it serves the same hash.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePolicy, policyHash } from '../src/config/index.js';
import { createLogger } from '../src/log.js';
import { Sidecar } from '../src/sidecar.js';
import { request } from './helpers/http.js';
import { testListeners, TEST_ENGINE, writePolicy } from './helpers/sidecar.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const fn of cleanup.splice(0).reverse()) await fn(); });

describe('/config_dump round trip', () => {
  it('the dumped policy loads to the same hash, and a sidecar reloaded with it serves that hash', async () => {
    const seed = await readFile(new URL('./fuzz/seeds/kitchen-sink.yaml', import.meta.url), 'utf8');
    // The seed's listeners, moved to port 0 on loopback; its DNS-named endpoint to an address.
    const text = seed.replace(/^listeners:\n(?: {2}.*\n)+/m, testListeners()).replace('reviews-v2.default.svc.cluster.local:9080', '127.0.0.1:9');
    const file = await writePolicy(text);
    const sidecar = await Sidecar.start({ policyFile: file, log: createLogger('silent'), engine: TEST_ENGINE, watch: false });
    cleanup.push(() => sidecar.close());
    const dump = (await request(sidecar.ports.admin, { path: '/config_dump' })).json();
    const reparsed = parsePolicy(JSON.stringify(dump.policy, null, 2), 'dump.json');
    if (!reparsed.ok) throw new Error(reparsed.errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
    expect(policyHash(reparsed.policy)).toBe(dump.hash);
    await writeFile(file, JSON.stringify(dump.policy));
    const r = await sidecar.reload('signal');
    expect(r.result).toBe('ok');
    const again = (await request(sidecar.ports.admin, { path: '/config_dump' })).json();
    expect(again.generation).toBe(dump.generation + 1);
    expect(again.hash).toBe(dump.hash);
  });
});
