/**
 * A real `redis-server` for a test file (or a test): started on a free port with persistence off,
 * killed afterwards. Suites that use it skip where redis-server is missing:
 *
 * ```ts
 * const req = needs(REDIS_SERVER);
 * describe.skipIf(!req.ok)(`the fleet${req.label}`, () => {
 *   const redis = useRedis();                 // one server for the file: started in beforeAll
 *   it('…', async () => { const link = await redisLink(redis.url); … });
 * });
 * ```
 *
 * A test that kills or restarts its server (`redis.server.kill()`, `.restart()`) should use its own:
 * `const own = await startRedis()` inside the test, stopped by the same afterAll.
 */
import { afterAll, beforeAll } from 'vitest';
import { RedisServer, type RedisServerOptions } from '../../src/chaos/redis-server.js';
import { RedisLink } from '../../src/fleet/redis.js';

export { RedisServer, type RedisServerOptions };

const started = new Set<RedisServer>();
const links = new Set<RedisLink>();

// Registered when a test file imports this module (collection time): a hook registered from inside
// a running test would never run, and the servers would outlive the file.
afterAll(async () => {
  await Promise.all([...links].map((l) => l.close()));
  links.clear();
  await Promise.all([...started].map((s) => s.stop()));
  started.clear();
});
// A worker that ends without its hooks (a timeout, a crash) still takes its servers along.
process.on('exit', () => { for (const s of started) s.killNow(); });

/** Starts a redis-server now; it is stopped when the test file ends. Call it inside a test or hook. */
export async function startRedis(o: RedisServerOptions = {}): Promise<RedisServer> {
  const server = await RedisServer.start(o);
  started.add(server);
  return server;
}

export interface UsedRedis {
  readonly server: RedisServer;
  /** `redis://[…@]127.0.0.1:PORT` */
  readonly url: string;
}

/** One redis-server for the enclosing describe block: started in beforeAll, stopped in afterAll. */
export function useRedis(o: RedisServerOptions = {}): UsedRedis {
  let server: RedisServer | undefined;
  beforeAll(async () => { server = await startRedis(o); });
  return {
    get server() { if (!server) throw new Error('useRedis: the server starts in beforeAll'); return server; },
    get url() { return this.server.url; },
  };
}

/** A connected client (our wrapper) for assertions and for writing around `publish`; closed after the file. */
export async function redisLink(url: string): Promise<RedisLink> {
  const link = await RedisLink.open(url, { name: 'test' });
  links.add(link);
  if (!await link.whenReady(5000)) throw new Error(`test client could not reach ${link.target}: ${link.lastError}`);
  return link;
}
