/** The fleet store on a real redis-server: compare-and-set publish, history, epochs, reports. */
import { describe, expect, it } from 'vitest';
import { FleetStore, InvalidGenerationError, parseGeneration, PUSHED_DOCUMENT_BYTES } from '../../src/fleet/store.js';
import { RedisLink, RedisLinkError } from '../../src/fleet/redis.js';
import { FleetUrlError, parseFleetUrl as parseRedisUrl, redactUrl } from '../../src/fleet/url.js';
import { REDIS_SERVER, needs } from '../helpers/system.js';
import { redisLink, startRedis, useRedis } from '../helpers/redis.js';

const req = needs(REDIS_SERVER);

const input = (n: number) => ({ hash: `h${n}`, policy: `version: 1 # ${n}\n`, publishedBy: 'test@host', message: `m${n}`, rollbackOf: null });

describe.skipIf(!req.ok)(`fleet store${req.label}`, () => {
  const redis = useRedis();
  let fleets = 0;
  const store = async (): Promise<FleetStore> => new FleetStore(await redisLink(redis.url), `store-${++fleets}`);

  it('numbers generations from 1, stamps an epoch at the first publish, and keeps the last 50', async () => {
    const s = await store();
    expect(await s.head()).toEqual({ generation: 0, epoch: undefined });
    expect(await s.current()).toBeUndefined();
    const first = await s.publish(input(1));
    expect(first.ok && first.generation).toMatchObject({ generation: 1, hash: 'h1', policy: 'version: 1 # 1\n', message: 'm1', publishedBy: 'test@host', rollbackOf: null });
    const epoch = first.ok ? first.generation.epoch : '';
    expect(epoch).toMatch(/^[0-9a-f]{16}$/);
    for (let n = 2; n <= 60; n++) expect((await s.publish(input(n))).ok).toBe(true);
    expect(await s.head()).toEqual({ generation: 60, epoch });
    const current = await s.current();
    expect(current).toMatchObject({ generation: 60, epoch, policy: 'version: 1 # 60\n' });
    expect(Date.parse(current!.publishedAt)).toBeGreaterThan(Date.now() - 60_000);
    const history = await s.history();
    expect(history.map((g) => g.generation)).toEqual(Array.from({ length: 50 }, (_, i) => 60 - i));
    expect(new Set(history.map((g) => g.epoch))).toEqual(new Set([epoch]));
  });

  it('compare-and-set: a publish expecting another generation changes nothing and says where the store is', async () => {
    const s = await store();
    expect((await s.publish({ ...input(1), expectGeneration: 0 })).ok).toBe(true);
    const r = await s.publish({ ...input(2), expectGeneration: 0 });
    expect(r).toEqual({ ok: false, current: { generation: 1, epoch: (await s.head()).epoch } });
    expect((await s.current())?.hash).toBe('h1');
    expect((await s.publish({ ...input(2), expectGeneration: 1 })).ok).toBe(true);
  });

  it('two concurrent publishers expecting the same generation: exactly one wins, every round', async () => {
    const a = await store();
    const b = new FleetStore(await redisLink(redis.url), a.fleet);
    for (let round = 0; round < 100; round++) {
      const results = await Promise.all([a.publish({ ...input(round), expectGeneration: round }), b.publish({ ...input(round + 1000), expectGeneration: round })]);
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.filter((r) => !r.ok).map((r) => !r.ok && r.current.generation)).toEqual([round + 1]);
    }
    expect((await a.head()).generation).toBe(100);
  });

  it('pushes the document itself on the fleet channel after each publish; one too large for the channel as "<epoch>:<generation>"', async () => {
    const s = await store();
    const link = await redisLink(redis.url);
    const got: string[] = [];
    link.subscribe(s.keys.events, (m) => got.push(m));
    await waitFor(() => link.connected);
    const data = { version: 1, routes: [] };
    const r = await s.publish({ ...input(1), data });
    await waitFor(() => got.length === 1);
    expect(got[0]).toBe(await s.link.command('GET', s.keys.current)); // exactly the stored document
    expect(parseGeneration(got[0]!)).toMatchObject({ generation: 1, epoch: r.ok && r.generation.epoch, policy: input(1).policy, data });
    const big = await s.publish({ ...input(2), policy: `version: 1\n${'#'.repeat(PUSHED_DOCUMENT_BYTES)}\n` });
    await waitFor(() => got.length === 2);
    expect(got[1]).toBe(`${big.ok && big.generation.epoch}:2`);
    expect((await s.current())?.generation).toBe(2);
  });

  it('a store reset gets a new epoch at its next publish', async () => {
    const own = await startRedis();
    const s = new FleetStore(await redisLink(own.url), 'reset');
    const before = await s.publish(input(1));
    await s.publish(input(2));
    await own.restart();
    const link = s.link;
    await waitFor(() => link.connected);
    expect(await s.head()).toEqual({ generation: 0, epoch: undefined });
    const after = await s.publish(input(3));
    expect(after.ok && after.generation.generation).toBe(1);
    expect(after.ok && after.generation.epoch).not.toBe(before.ok && before.generation.epoch);
  });

  it('reports: live while they keep reporting within the ttl, by the server clock; gone after leave or expiry', async () => {
    const s = await store();
    await s.heartbeat('a', { generation: 1 }, 60_000);
    await s.heartbeat('b', { generation: 2 }, 300);
    const first = await s.live<{ generation: number }>(60_000);
    expect(first.sidecars.map((x) => [x.id, x.report.generation]).sort()).toEqual([['a', 1], ['b', 2]]);
    expect(Math.abs(first.sidecars[0]!.reportedAt - first.now)).toBeLessThan(5000);
    await waitFor(async () => (await s.live(300)).sidecars.length === 0);
    expect((await s.live(60_000)).sidecars.map((x) => x.id)).toEqual(['a']); // b's report expired with its ttl
    await s.leave('a');
    expect((await s.live(60_000)).sidecars).toEqual([]);
  });

  it('a stored document that is not a generation is an error naming what is wrong', () => {
    expect(() => parseGeneration('nope')).toThrow(InvalidGenerationError);
    expect(() => parseGeneration('{"generation":4,"epoch":"e"}')).toThrow(/lacks hash, policy, publishedBy, publishedAt, message/);
  });
});

describe('fleet URLs', () => {
  it('accepts redis:// and rediss:// with user, password and db; redacts credentials', () => {
    expect(redactUrl(parseRedisUrl('redis://ops:s3cret@10.0.0.5:6380/2'))).toBe('redis://10.0.0.5:6380/2');
    expect(redactUrl(parseRedisUrl('rediss://:s3cret@redis.example.com'))).toBe('rediss://redis.example.com');
  });

  it.each([
    ['http://x', /unsupported scheme http:/],
    ['redis://', /not a URL|no host/],
    ['redis://h/not-a-db', /database number/],
    ['redis//ops:s3cret@host', /not a URL/],
  ])('rejects %s without echoing a password', (url, message) => {
    let err: unknown;
    try { parseRedisUrl(url); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(FleetUrlError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('s3cret');
  });

  it('a link that cannot connect fails fast and names the target without its password', async () => {
    const link = await RedisLink.open('redis://ops:s3cret@127.0.0.1:1', { name: 'test', reconnect: false });
    const t0 = performance.now();
    expect(await link.whenReady(5000)).toBe(false);
    expect(performance.now() - t0).toBeLessThan(3000);
    await expect(link.command('GET', 'x')).rejects.toThrow(RedisLinkError);
    expect(link.target).toBe('redis://127.0.0.1:1');
    expect(`${link.lastError}`).not.toContain('s3cret');
    await link.close();
  });
});

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
