/**
 * The fleet watcher on a real redis-server: a publish's push carries the document, so following the
 * fleet costs a sidecar no read of the store per flip; an announcement instead (a document too large
 * for the channel, an older publisher) still makes it read the store and apply.
 */
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { publishable } from '../../src/fleet/publishable.js';
import { FleetStore, PUSHED_DOCUMENT_BYTES, type Generation } from '../../src/fleet/store.js';
import { FleetWatcher, type UnreadableGeneration } from '../../src/fleet/watcher.js';
import type { RedisLink } from '../../src/fleet/redis.js';
import { REDIS_SERVER, needs } from '../helpers/system.js';
import { waitFor } from '../helpers/http.js';
import { redisLink, startRedis } from '../helpers/redis.js';

const req = needs(REDIS_SERVER);

const policy = (upstream: string, comment = '') => `version: 1
upstreams:
  blue: { endpoints: [{ address: "127.0.0.1:1" }] }
  green: { endpoints: [{ address: "127.0.0.1:2" }] }
routes:
  - { name: web, match: { host: web }, to: [{ upstream: ${upstream} }] }
${comment}`;

/**
 * How often the store's head was read so far (MGET of generation and epoch: what a watcher's read
 * of the store starts with), server-wide — the test's redis-server is its own. (GET would count the
 * publish script's own reads too.)
 */
async function headReads(link: RedisLink): Promise<number> {
  const info = String(await link.command('INFO', 'commandstats'));
  return Number(/^cmdstat_mget:calls=(\d+)/m.exec(info)?.[1] ?? 0);
}

describe.skipIf(!req.ok)(`fleet watcher${req.label}`, () => {
  it('applies pushed documents (with their data) without reading the store, and reads it for an announcement', async () => {
    const redis = await startRedis();
    const publisher = new FleetStore(await redisLink(redis.url), 'w');
    const applied: Array<Generation | UnreadableGeneration> = [];
    const watcher = new FleetWatcher({
      store: new FleetStore(await redisLink(redis.url), 'w'), log: createLogger('silent'), pollMs: 600_000,
      apply: async (g) => { applied.push(g); return { result: 'ok' }; },
    });
    const publish = (text: string) => publisher.publish({ ...publishable(text), publishedBy: 't', message: '', rollbackOf: null });
    await publish(policy('blue'));
    await watcher.start(); // the start reads the store
    try {
      expect(watcher.serving?.generation).toBe(1);
      // The first push arrives after the subscription is confirmed, whose re-read it follows.
      await publish(policy('green'));
      await waitFor(() => watcher.serving?.generation === 2, { what: 'generation 2 applied' });
      const before = await headReads(publisher.link);
      for (let i = 0; i < 10; i++) await publish(policy(i % 2 === 0 ? 'blue' : 'green'));
      await waitFor(() => watcher.serving?.generation === 12, { what: 'generation 12 applied' });
      expect(await headReads(publisher.link)).toBe(before); // ten flips, not one read of the store
      const last = applied.at(-1) as Generation;
      expect(last).toMatchObject({ generation: 12, policy: policy('green') });
      const text = parsePolicy(policy('green'), 'p', { fleet: true });
      expect(text.ok && last.data).toEqual(text.ok && text.value); // what the text parses to, for the sidecar to check

      // Too large for the channel: announced, so the watcher reads the store (and still applies it).
      const big = policy('green', `# ${'x'.repeat(PUSHED_DOCUMENT_BYTES)}\n`);
      await publish(big);
      await waitFor(() => watcher.serving?.generation === 13, { what: 'generation 13 applied' });
      expect(await headReads(publisher.link)).toBeGreaterThan(before);
      expect((applied.at(-1) as Generation).policy).toBe(big);
    } finally {
      watcher.stop();
    }
  });
});
