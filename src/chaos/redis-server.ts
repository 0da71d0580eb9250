/**
 * A real `redis-server` as a child process, for the chaos runner's fleet environments, the fleet
 * tests and `npm run bench:fleet`: persistence off, bound to loopback, on a port of its own.
 *
 * `--port 0` makes redis-server exit ("not listen anywhere"), so the port is picked here: a random
 * one below every OS's ephemeral range (as the toxic proxies do), because a server that is killed
 * and restarted must get its port back, and a port from the ephemeral range can be taken by any
 * outgoing connection meanwhile. A port someone else holds is detected from redis-server's own
 * message and another is tried.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface RedisServerOptions {
  /** `requirepass`: clients must authenticate (the URL then carries the password). */
  readonly password?: string;
  /** An ACL user with every permission, besides `default` (the URL then names it). */
  readonly user?: { readonly name: string; readonly password: string };
  /** Port on 127.0.0.1. Default: a random free one in 20000–32767. */
  readonly port?: number;
  /** Serve TLS only (`rediss://`): PEM files of the server's certificate and key, and the CA clients are checked against. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile: string };
  /** How long redis-server may take to accept connections, ms. Default 10 000. */
  readonly startTimeoutMs?: number;
  /** The program; default `redis-server` on PATH. */
  readonly program?: string;
}

const STABLE_PORTS = { from: 20_000, to: 32_768 };

export class RedisServer {
  private child: ChildProcess | undefined;
  private exitedPromise: Promise<void> = Promise.resolve();

  private constructor(readonly port: number, private readonly o: RedisServerOptions, private readonly dir: string) {}

  /** Starts redis-server and resolves once it accepts connections. */
  static async start(o: RedisServerOptions = {}): Promise<RedisServer> {
    const dir = await mkdtemp(path.join(tmpdir(), 'pilotfish-redis-'));
    for (let tries = 1; ; tries++) {
      const port = o.port ?? STABLE_PORTS.from + Math.floor(Math.random() * (STABLE_PORTS.to - STABLE_PORTS.from));
      const server = new RedisServer(port, o, dir);
      try {
        await server.launch();
        return server;
      } catch (err) {
        if (!(err instanceof PortInUse) || o.port !== undefined || tries === 50) {
          await rm(dir, { recursive: true, force: true });
          throw err;
        }
      }
    }
  }

  /** Whether `program` (default redis-server) is on PATH. */
  static installed(program = 'redis-server'): boolean {
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
      if (!dir) continue;
      try {
        accessSync(path.join(dir, program), constants.X_OK);
        return true;
      } catch { /* not in this directory */ }
    }
    return false;
  }

  /** `redis://[user:password@]127.0.0.1:PORT`: what a sidecar's `--fleet` takes. */
  get url(): string {
    const auth = this.o.user ? `${encodeURIComponent(this.o.user.name)}:${encodeURIComponent(this.o.user.password)}@`
      : this.o.password ? `:${encodeURIComponent(this.o.password)}@` : '';
    return `${this.o.tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined { return this.child?.pid; }

  /** Kills it at once (SIGKILL): to its clients, Redis is gone. Its data goes with it. */
  async kill(): Promise<void> {
    if (this.running) this.child!.kill('SIGKILL');
    await this.exitedPromise;
  }

  /** Starts it again on the same port, empty (nothing was persisted). */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  /** Stops it and removes its working directory. */
  async stop(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Synchronous last resort (process `exit` hooks). */
  killNow(): void {
    if (this.running) this.child!.kill('SIGKILL');
  }

  private args(): string[] {
    const t = this.o.tls;
    const listen = t
      ? ['--port', '0', '--tls-port', String(this.port), '--tls-cert-file', t.certFile, '--tls-key-file', t.keyFile, '--tls-ca-cert-file', t.caFile, '--tls-auth-clients', 'no']
      : ['--port', String(this.port)];
    const args = [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--daemonize', 'no'];
    if (this.o.password) args.push('--requirepass', this.o.password);
    if (this.o.user) args.push('--user', this.o.user.name, 'on', `>${this.o.user.password}`, '~*', '&*', '+@all');
    return args;
  }

  private launch(): Promise<void> {
    const child = spawn(this.o.program ?? 'redis-server', this.args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exitedPromise = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    const tail: string[] = [];
    const timeoutMs = this.o.startTimeoutMs ?? 10_000;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`redis-server did not start within ${timeoutMs}ms\n${tail.join('\n')}`)); }, timeoutMs);
      const onLine = (line: string): void => {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        if (line.includes('Ready to accept connections')) { clearTimeout(timer); resolve(); }
      };
      createInterface({ input: child.stdout! }).on('line', onLine);
      createInterface({ input: child.stderr! }).on('line', onLine);
      child.once('error', (err) => { clearTimeout(timer); reject(err); });
      child.once('exit', (code) => {
        clearTimeout(timer);
        const text = tail.join('\n');
        reject(/Address already in use/i.test(text) ? new PortInUse(this.port) : new Error(`redis-server exited with ${code} before it was ready\n${text}`));
      });
    });
  }
}

class PortInUse extends Error {
  constructor(port: number) { super(`port ${port} in use`); }
}
