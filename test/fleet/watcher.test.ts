/**
 * The fleet watcher on a real redis-server: a publish's push carries the document, so following the
 * fleet costs a sidecar no read of the store per flip; an announcement instead (a document too large
 * for the channel, an older publisher) still makes it read the store and apply. At debug level each
 * pushed flip is logged with when each step was reached (what bench:fleet's BENCH_TRACE=1 reads).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/index.js';
import type { OfferMarks } from '../../src/core/policy-source.js';
import { DataPlane } from '../../src/dataplane/data-plane.js';
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

  it('at debug level, logs each pushed flip with its steps in order (received → parsed → validated → built → swapped); at info, stamps nothing', async () => {
    const redis = await startRedis();
    const publisher = new FleetStore(await redisLink(redis.url), 'm');
    const publish = (text: string) => publisher.publish({ ...publishable(text), publishedBy: 't', message: '', rollbackOf: null });
    await publish(policy('blue'));
    for (const level of ['debug', 'info'] as const) {
      const lines: Array<Record<string, unknown>> = [];
      const log = pino({ level }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk)) as Record<string, unknown>); done(); } }));
      const plane = await DataPlane.create({ policy: { text: policy('blue'), name: 'boot' }, log, watch: false });
      const given: Array<OfferMarks | undefined> = [];
      const watcher = new FleetWatcher({
        store: new FleetStore(await redisLink(redis.url), 'm'), log, pollMs: 600_000,
        apply: (g, marks) => {
          given.push(marks);
          if ('unreadable' in g) throw new Error('unexpected');
          return plane.offer({ origin: 'fleet', text: g.policy, name: `fleet:m@${g.generation}`, generation: g.generation, data: g.data, ...(marks ? { marks } : {}) });
        },
      });
      await watcher.start();
      try {
        // The first may be read by the re-read that follows the subscription; the second is pushed.
        let generation = 0;
        for (const color of ['green', 'blue']) {
          const r = await publish(policy(color, `# ${level}\n`));
          generation = r.ok ? r.generation.generation : -1;
          await waitFor(() => watcher.serving?.generation === generation, { what: `generation ${generation} applied` });
        }
        const flip = lines.find((l) => l.msg === 'fleet: flip' && l.fleetGeneration === generation);
        if (level === 'info') {
          expect(lines.some((l) => l.msg === 'fleet: flip')).toBe(false);
          expect(given.every((m) => m === undefined)).toBe(true);
          continue;
        }
        expect(flip).toMatchObject({ fleetGeneration: generation, result: 'ok' });
        const steps = ['received', 'parsed', 'validated', 'built', 'swapped'].map((k) => flip![k]);
        for (const t of steps) expect(typeof t).toBe('number');
        expect([...(steps as number[])].sort((a, b) => a - b)).toEqual(steps);
        expect(Math.abs((steps[0] as number) - Date.now())).toBeLessThan(60_000); // wall clock, comparable across processes
      } finally {
        watcher.stop();
        plane.close();
      }
    }
  });
});
