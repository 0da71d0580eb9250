/**
 * An in-process TCP proxy in front of one fake endpoint, in the style of Toxiproxy: the sidecar's
 * policy points at this proxy, so network faults (toxics) land between the sidecar and the endpoint.
 * Toxics can be added and removed while connections are open and act on those too. `disable()`
 * stops listening and resets every connection — to the sidecar the endpoint is dead (connect refused),
 * not merely misbehaving — and `enable()` listens again on the same port.
 *
 * That port must still be free when the endpoint comes back, so it is not an ephemeral one: a port
 * from `listen(0)` is from the range the kernel also hands to outgoing connections and other
 * `listen(0)` calls, and under load one of them took it while the endpoint was down (EADDRINUSE on
 * `enable()`). The proxy picks a random port below every OS's ephemeral range instead.
 */
import net from 'node:net';
import { once } from 'node:events';
import { ToxicLink } from './toxic-link.js';
import { createStage, type LinkControl, type ToxicDefinition, type ToxicStage, type ToxicStream } from './toxics.js';

export interface ToxicProxyOptions {
  /** Port of the endpoint on 127.0.0.1. */
  readonly targetPort: number;
  /** Port to listen on (127.0.0.1). Default: a random free one in 20000–32767 (see above). */
  readonly port?: number;
  /** Decides toxicity and jitter; default Math.random. */
  readonly random?: () => number;
}

interface Connection {
  readonly client: net.Socket;
  readonly server: net.Socket;
  readonly control: LinkControl & { abort(): void };
  /** Toxic name → its stage on this connection, per direction (absent when toxicity spared it). */
  readonly stages: Record<ToxicStream, Map<string, ToxicStage>>;
}

/** Below the ephemeral ranges of Linux (32768–60999), macOS and Windows (49152–65535). */
const STABLE_PORTS = { from: 20_000, to: 32_768 };

export class ToxicProxy {
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private readonly toxics = new Map<string, ToxicDefinition>();
  private readonly random: () => number;
  private targetPort: number;
  private boundPort = 0;
  /** Bytes read from each side since start: `upstream` from clients, `downstream` from the endpoint. */
  readonly bytesIn: Record<ToxicStream, number> = { upstream: 0, downstream: 0 };

  private constructor(options: ToxicProxyOptions) {
    this.targetPort = options.targetPort;
    this.random = options.random ?? Math.random;
    // Half-open on both sides: a FIN travels through its link (maybe delayed by slow_close) instead
    // of Node closing the other direction for us.
    this.server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => this.accept(client));
  }

  static async start(options: ToxicProxyOptions): Promise<ToxicProxy> {
    const proxy = new ToxicProxy(options);
    if (options.port !== undefined) {
      await proxy.listen(options.port);
      return proxy;
    }
    for (let tries = 1; ; tries++) {
      try {
        await proxy.listen(STABLE_PORTS.from + Math.floor(Math.random() * (STABLE_PORTS.to - STABLE_PORTS.from)));
        return proxy;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || tries === 100) throw err;
      }
    }
  }

  get port(): number { return this.boundPort; }
  get address(): string { return `127.0.0.1:${this.boundPort}`; }
  get listening(): boolean { return this.server.listening; }
  get connectionCount(): number { return this.connections.size; }

  /** Points new connections at another port (an endpoint restarted elsewhere). */
  setTarget(port: number): void { this.targetPort = port; }

  addToxic(toxic: ToxicDefinition): void {
    if (this.toxics.has(toxic.name)) throw new Error(`toxic "${toxic.name}" already exists on ${this.address}`);
    this.toxics.set(toxic.name, toxic);
    for (const c of this.connections) this.attach(c, toxic);
  }

  removeToxic(name: string): boolean {
    const toxic = this.toxics.get(name);
    if (!toxic) return false;
    this.toxics.delete(name);
    for (const c of this.connections) {
      c.stages[toxic.stream].get(name)?.detach?.();
      c.stages[toxic.stream].delete(name);
    }
    return true;
  }

  listToxics(): ToxicDefinition[] { return [...this.toxics.values()]; }

  /** Stops listening and resets every open connection. */
  async disable(): Promise<void> {
    for (const c of this.connections) c.control.reset();
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async enable(): Promise<void> {
    if (!this.server.listening) await this.listen(this.boundPort);
  }

  async close(): Promise<void> {
    for (const name of [...this.toxics.keys()]) this.removeToxic(name);
    await this.disable();
  }

  private async listen(port: number): Promise<void> {
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening'); // rejects with the server's 'error' (EADDRINUSE)
    this.boundPort = (this.server.address() as net.AddressInfo).port;
  }

  private accept(client: net.Socket): void {
    const server = net.connect({ host: '127.0.0.1', port: this.targetPort, allowHalfOpen: true });
    const abort = new AbortController();
    const conn: Connection = {
      client, server,
      control: {
        signal: abort.signal,
        abort: () => abort.abort(),
        reset: () => { client.resetAndDestroy(); server.resetAndDestroy(); abort.abort(); },
        close: () => { client.destroySoon(); server.destroySoon(); abort.abort(); },
      },
      stages: { upstream: new Map(), downstream: new Map() },
    };
    this.connections.add(conn);
    // A reset on one side is passed on as a reset to the other; the proxy itself never throws.
    client.on('error', () => { if (!server.destroyed) server.resetAndDestroy(); abort.abort(); });
    server.on('error', () => { if (!client.destroyed) client.resetAndDestroy(); abort.abort(); });
    const gone = (): void => {
      if (client.destroyed && server.destroyed) { this.connections.delete(conn); abort.abort(); }
    };
    client.on('close', gone);
    server.on('close', gone);
    client.on('data', (c: Buffer) => { this.bytesIn.upstream += c.length; });
    server.on('data', (c: Buffer) => { this.bytesIn.downstream += c.length; });
    server.once('connect', () => {
      for (const toxic of this.toxics.values()) this.attach(conn, toxic);
      const stages = (stream: ToxicStream) => (): ToxicStage[] => [...conn.stages[stream].values()];
      void new ToxicLink(client, server, stages('upstream'), conn.control).pump();
      void new ToxicLink(server, client, stages('downstream'), conn.control).pump();
      client.resume();
    });
  }

  private attach(c: Connection, toxic: ToxicDefinition): void {
    // A toxic added while the connection was still connecting is attached again on connect: once is enough.
    if (c.stages[toxic.stream].has(toxic.name) || this.random() * 100 >= toxic.toxicity) return;
    const stage = createStage(toxic.spec, c.control, this.random);
    c.stages[toxic.stream].set(toxic.name, stage);
    stage.attach?.();
  }
}
