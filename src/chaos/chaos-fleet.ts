/**
 * A fleet environment's own fleet (SPEC §9): a redis-server the runner starts, the store the
 * sidecars join, and what the `publish` and `rollback` actions do to it — exactly what
 * `pilotfish publish` and `pilotfish rollback` do.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisLink } from '../fleet/redis.js';
import { rollback } from '../fleet/rollback.js';
import { publishable } from '../fleet/publishable.js';
import { FleetStore, type Generation } from '../fleet/store.js';
import type { AdminClient } from './admin-client.js';
import { RedisServer } from './redis-server.js';
import type { FleetSpec } from './suite-schema.js';

export class ChaosFleet {
  private constructor(private readonly redis: RedisServer, readonly store: FleetStore, readonly sidecars: number) {}

  static async start(spec: FleetSpec): Promise<ChaosFleet> {
    const redis = await RedisServer.start();
    try {
      const link = await RedisLink.open(redis.url, { name: 'chaos' });
      if (!await link.whenReady(5000)) throw new Error(`cannot reach the fleet's redis-server at ${link.target}: ${link.lastError}`);
      return new ChaosFleet(redis, new FleetStore(link, spec.key), spec.sidecars);
    } catch (err) {
      await redis.stop();
      throw err;
    }
  }

  get url(): string { return this.redis.url; }
  get key(): string { return this.store.fleet; }

  /** Publishes the policy text as the next generation; resolves once Redis has it (not once the sidecars do). */
  async publish(text: string, message: string): Promise<Generation> {
    const r = await this.store.publish({ ...publishable(text), publishedBy: 'pilotfish chaos', message, rollbackOf: null });
    if (!r.ok) throw new Error('publish conflict'); // no expectGeneration: cannot happen
    return r.generation;
  }

  async rollback(to: number | undefined): Promise<Generation> {
    const r = await rollback(this.store, to, 'pilotfish chaos');
    if (r.kind === 'published') return r.generation;
    throw new Error(r.kind === 'conflict' ? `the fleet moved to generation ${r.now} while rolling back` : r.messages.join('; '));
  }

  /** The current generation's policy text (what an undo of a publish restores). */
  async currentText(): Promise<string | undefined> {
    return (await this.store.current())?.policy;
  }

  /** Publishes the suite's policy as the first generation and waits until every sidecar serves it. */
  async publishInitial(text: string, admins: ReadonlyArray<AdminClient | undefined>, timeoutMs: number): Promise<void> {
    const g = await this.publish(text, 'the suite\'s policy');
    const deadline = performance.now() + timeoutMs;
    for (const [i, admin] of admins.entries()) {
      if (!admin) throw new Error(`sidecar ${i} has no admin port`);
      for (;;) {
        const dump = await admin.configDump().catch(() => undefined) as { fleet?: { generation?: unknown } } | undefined;
        if (dump?.fleet?.generation === g.generation) break;
        if (performance.now() > deadline) throw new Error(`sidecar ${i} did not serve the fleet's generation ${g.generation} within ${timeoutMs}ms`);
        await sleep(25);
      }
    }
  }

  describe(): Record<string, unknown> {
    return { redis: this.store.link.target, key: this.key, sidecars: this.sidecars, redisPid: this.redis.pid };
  }

  async close(): Promise<void> {
    await this.store.link.close();
    await this.redis.stop();
  }

  killNow(): void {
    this.redis.killNow();
  }
}
