/**
 * Our one door to Redis: nothing else imports ioredis, and this module is loaded (by dynamic
 * `import()`) only when a fleet is configured — the client costs ~22 MB of RSS a sidecar without a
 * fleet should not pay.
 *
 * What it guarantees (LIBRARIES.md has the verified client behaviour behind each point):
 * - **A dead Redis fails fast and never stalls anything.** No offline queue (a command while
 *   disconnected fails at once), no per-request retries (a command in flight when the connection
 *   drops fails at once), and a per-command timeout for a connection that hangs without closing.
 *   Callers treat a failure as "Redis unreachable" and carry on with what they have.
 * - **Reconnects forever with capped, jittered backoff** (a sidecar), or not at all (a CLI
 *   command, which reports and exits).
 * - **A dedicated subscriber connection** (`CLIENT KILL TYPE pubsub` and the subscribe state must
 *   not take the command connection with them). ioredis re-subscribes by itself after a reconnect,
 *   but a message published in the gap is lost: `onReady` callbacks run after every (re)connection
 *   *and* once the re-subscription is confirmed, so callers re-read what they may have missed.
 * - **Credentials never leave this module**: `target` is the URL without them, and every error
 *   message passed on has them scrubbed.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Redis as IoRedis, RedisOptions } from 'ioredis';
import { parseFleetUrl, redactUrl } from './url.js';

export interface RedisLinkOptions {
  /** Connection name in `CLIENT LIST` (`pilotfish-<name>`), so an operator can tell who is who. */
  readonly name: string;
  /** A command not answered within this long fails (ms). Default 1 000. */
  readonly commandTimeoutMs?: number;
  /** How long one connection attempt may take (ms). Default 2 000. */
  readonly connectTimeoutMs?: number;
  /** Reconnect after a lost connection (a sidecar: forever, with backoff). Default true; a CLI command passes false. */
  readonly reconnect?: boolean;
  /** Where connection changes are logged (never with credentials). */
  readonly log?: Logger;
}

/** A Redis failure with credentials scrubbed from its message. */
export class RedisLinkError extends Error {
  override readonly name = 'RedisLinkError';
}

export type RedisValue = string | number | Buffer | null | RedisValue[];
export type ScriptCall = (keys: readonly string[], args: readonly (string | number)[]) => Promise<RedisValue>;

type Listener = () => void;

export class RedisLink {
  private readonly secrets: string[];
  private readonly readyListeners = new Set<Listener>();
  private readonly downListeners = new Set<Listener>();
  private subscriber: IoRedis | undefined;
  private readonly channels = new Map<string, (message: string) => void>();
  private up = false;
  private subUp = false;
  private closed = false;
  private everReady = false;
  private ended = false;
  private failure: string | undefined;

  private constructor(private readonly cmd: IoRedis, private readonly make: (role: string) => IoRedis, readonly target: string, secrets: string[], private readonly o: RedisLinkOptions) {
    this.secrets = secrets.filter((s) => s.length > 0);
    this.watch(cmd, 'command');
  }

  /**
   * Creates the link and starts connecting; it does not wait (see `whenReady`). Throws only for a
   * malformed URL (`FleetUrlError`).
   */
  static async open(url: string, o: RedisLinkOptions): Promise<RedisLink> {
    const u = parseFleetUrl(url);
    const { Redis } = await import('ioredis');
    const secrets = [decodeURIComponent(u.password), decodeURIComponent(u.username), u.password, u.username];
    const reconnect = o.reconnect ?? true;
    const options = (role: string): RedisOptions & { replyMapping?: 'legacy' } => ({
      connectionName: `pilotfish-${o.name}${role === 'command' ? '' : `-${role}`}`,
      // Fail fast: see the module comment. The subscriber keeps a queue so its SUBSCRIBE can be
      // issued before the first connection is up; it sends nothing else.
      enableOfflineQueue: role !== 'command',
      maxRetriesPerRequest: role === 'command' ? 0 : null,
      commandTimeout: role === 'command' ? o.commandTimeoutMs ?? 1000 : undefined,
      connectTimeout: o.connectTimeoutMs ?? 2000,
      retryStrategy: reconnect ? (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000) + Math.floor(Math.random() * 100) : () => null,
      lazyConnect: false,
      // ioredis reads `rediss:` as TLS with the system's roots; nothing to add for a managed Redis.
    });
    const make = (role: string): IoRedis => new Redis(url, options(role));
    return new RedisLink(make('command'), make, redactUrl(u), secrets, o);
  }

  /** Whether the command connection is up (and, once something subscribed, the subscriber too). */
  get connected(): boolean {
    return this.up && (this.subscriber === undefined || this.subUp);
  }

  /** Whether the command connection is up (commands can be sent; the subscriber may be away). */
  get commandReady(): boolean {
    return this.up;
  }

  /**
   * Runs `fn` after every (re)connection of the command connection and every confirmed
   * re-subscription — the moments something may have been missed. Returns an unsubscribe.
   */
  onReady(fn: Listener): () => void {
    this.readyListeners.add(fn);
    return () => this.readyListeners.delete(fn);
  }

  /** Runs `fn` whenever a connection is lost. */
  onDown(fn: Listener): () => void {
    this.downListeners.add(fn);
    return () => this.downListeners.delete(fn);
  }

  /** The last connection error seen (scrubbed), for "cannot reach Redis" messages. */
  get lastError(): string | undefined {
    return this.failure;
  }

  /**
   * Resolves true once connected; false if that has not happened within `timeoutMs`, or (without
   * `reconnect`) as soon as the one attempt failed.
   */
  whenReady(timeoutMs: number): Promise<boolean> {
    if (this.up) return Promise.resolve(true);
    if (this.ended) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => { clearTimeout(timer); offReady(); offDown(); resolve(ok); };
      const timer = setTimeout(() => done(false), timeoutMs);
      timer.unref();
      const offReady = this.onReady(() => done(true));
      const offDown = this.onDown(() => { if (this.ended) done(false); });
    });
  }

  /** One command on the command connection (e.g. `command('GET', key)`). */
  async command(name: string, ...args: (string | number)[]): Promise<RedisValue> {
    try {
      return await (this.cmd.call(name, ...args) as Promise<RedisValue>);
    } catch (err) {
      throw this.scrub(err);
    }
  }

  /**
   * A Lua script, run by EVALSHA (falling back to EVAL the first time a server has not seen it):
   * the server runs it atomically, which is how compare-and-set and heartbeats stay one step.
   */
  script(lua: string): ScriptCall {
    const sha = createHash('sha1').update(lua).digest('hex');
    return async (keys, args) => {
      try {
        return await (this.cmd.call('EVALSHA', sha, keys.length, ...keys, ...args) as Promise<RedisValue>);
      } catch (err) {
        if (!String((err as Error).message).startsWith('NOSCRIPT')) throw this.scrub(err);
      }
      try {
        return await (this.cmd.call('EVAL', lua, keys.length, ...keys, ...args) as Promise<RedisValue>);
      } catch (err) {
        throw this.scrub(err);
      }
    };
  }

  /**
   * Subscribes `onMessage` to `channel` on the subscriber connection (created on first use). The
   * subscription survives reconnections; `onReady` fires once it is confirmed again.
   */
  subscribe(channel: string, onMessage: (message: string) => void): void {
    this.channels.set(channel, onMessage);
    if (!this.subscriber) {
      const sub = this.make('subscriber');
      this.subscriber = sub;
      this.watch(sub, 'subscriber');
      sub.on('message', (ch: string, message: string) => this.channels.get(ch)?.(message));
    }
    this.subscriber.subscribe(channel).catch(() => { /* retried by ioredis on reconnect; readiness is tracked by events */ });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const quit = async (c: IoRedis): Promise<void> => {
      try {
        if (c.status === 'ready') await Promise.race([c.quit(), new Promise((r) => setTimeout(r, 200).unref())]);
      } catch { /* closing anyway */ }
      c.disconnect(false);
    };
    await Promise.all([quit(this.cmd), ...(this.subscriber ? [quit(this.subscriber)] : [])]);
    this.up = this.subUp = false;
  }

  /** The message of `err` with credentials removed, as a RedisLinkError. */
  scrub(err: unknown): RedisLinkError {
    let text = err instanceof Error ? err.message : String(err);
    for (const s of this.secrets) text = text.split(s).join('***');
    return new RedisLinkError(text);
  }

  private watch(c: IoRedis, role: 'command' | 'subscriber'): void {
    const log = this.o.log;
    let lastError: string | undefined;
    // ioredis emits 'error' for every failed reconnection attempt; one log line per outage is enough.
    c.on('error', (err: Error) => { lastError = this.failure = this.scrub(err).message; });
    c.on('end', () => {
      if (role !== 'command') return;
      this.ended = true;
      this.fire(this.downListeners);
    });
    c.on('ready', () => {
      if (role === 'command') this.up = true;
      if (this.closed) return;
      if (role === 'subscriber') {
        // The re-SUBSCRIBE went out just before 'ready'; a PING's answer comes after its confirmation.
        c.ping().then(() => { this.subUp = true; this.fire(this.readyListeners); }, () => {});
        return;
      }
      if (this.everReady) log?.info({ redis: this.target }, 'fleet: Redis connection restored');
      this.everReady = true;
      this.fire(this.readyListeners);
    });
    c.on('close', () => {
      const was = role === 'command' ? this.up : this.subUp;
      if (role === 'command') this.up = false; else this.subUp = false;
      if (this.closed || !was) return;
      log?.warn({ redis: this.target, connection: role, err: lastError }, 'fleet: Redis connection lost; serving the last good policy, reconnecting');
      this.fire(this.downListeners);
    });
  }

  private fire(listeners: Set<Listener>): void {
    for (const fn of [...listeners]) {
      try { fn(); } catch (err) { this.o.log?.error({ err }, 'fleet: listener failed'); }
    }
  }
}
