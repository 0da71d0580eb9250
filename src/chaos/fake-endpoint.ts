/**
 * One fake replica of an upstream: an HTTP server on 127.0.0.1 that answers after a sampled latency,
 * fails a share of requests with a status, returns a body of a set size, and names itself in the
 * `x-chaos-instance` header (and its upstream in `x-chaos-upstream`) so the runner can count how
 * traffic was shared. Its behaviour can be changed while it runs (`degrade`), and it can be killed
 * (connections cut, port closed) and restarted (a new port: the toxic proxy in front keeps the
 * address the sidecar knows).
 */
import http from '../core/node-http.js';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import type { ErrorsSpec, LatencySpec } from './action-schema.js';
import { latencySampler, type LatencySampler } from './latency-distribution.js';

export const INSTANCE_HEADER = 'x-chaos-instance';
export const UPSTREAM_HEADER = 'x-chaos-upstream';

export interface FakeBehaviour {
  readonly latency?: LatencySpec | undefined;
  readonly errors?: ErrorsSpec | undefined;
  /** Response body size, bytes. */
  readonly bodySize: number;
  /** Answered 200 at once whatever the behaviour, for active health checks. */
  readonly healthPath: string;
}

export interface FakeEndpointOptions {
  readonly upstream: string;
  readonly index: number;
  readonly behaviour: FakeBehaviour;
  readonly random?: () => number;
}

export class FakeEndpoint {
  readonly upstream: string;
  readonly instance: string;
  private current: FakeBehaviour;
  private sampler: LatencySampler;
  private body: Buffer;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly random: () => number;
  private served = 0;

  private constructor(options: FakeEndpointOptions) {
    this.upstream = options.upstream;
    this.instance = `${options.upstream}-${options.index}`;
    this.random = options.random ?? Math.random;
    this.current = options.behaviour;
    this.sampler = latencySampler(options.behaviour.latency, this.random);
    this.body = Buffer.alloc(options.behaviour.bodySize, 'x');
  }

  static async start(options: FakeEndpointOptions): Promise<FakeEndpoint> {
    const e = new FakeEndpoint(options);
    await e.listen();
    return e;
  }

  get port(): number { return (this.server?.address() as AddressInfo | null)?.port ?? 0; }
  get running(): boolean { return this.server?.listening ?? false; }
  /** Requests answered since start (health checks excluded). */
  get requests(): number { return this.served; }
  get behaviour(): FakeBehaviour { return this.current; }

  setBehaviour(behaviour: FakeBehaviour): void {
    this.current = behaviour;
    this.sampler = latencySampler(behaviour.latency, this.random);
    if (behaviour.bodySize !== this.body.length) this.body = Buffer.alloc(behaviour.bodySize, 'x');
  }

  /** Cuts every connection and closes the port, as a crashed process would. */
  async kill(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** Starts again on a fresh port. */
  async restart(): Promise<void> {
    if (!this.server) await this.listen();
  }

  close(): Promise<void> { return this.kill(); }

  private async listen(): Promise<void> {
    const server = http.createServer((req, res) => this.handle(req, res));
    server.on('connection', (s: Socket) => { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); });
    server.on('clientError', (_err, socket) => socket.destroy());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.server = server;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    req.on('error', () => {});
    res.on('error', () => {});
    const headers = { [INSTANCE_HEADER]: this.instance, [UPSTREAM_HEADER]: this.upstream, 'content-type': 'text/plain' };
    if (req.url?.split('?')[0] === this.current.healthPath) {
      req.resume();
      res.writeHead(200, headers).end('ok');
      return;
    }
    this.served++;
    const delay = this.sampler();
    const errors = this.current.errors;
    const status = errors && this.random() * 100 < errors.percent ? errors.status : 200;
    const body = this.body;
    let timer: NodeJS.Timeout | undefined;
    // Whoever leaves first: the answer is not written to a connection that is gone.
    res.on('close', () => clearTimeout(timer));
    req.resume(); // the body is read and discarded: the sidecar may stream one
    req.on('end', () => {
      const answer = (): void => { res.writeHead(status, { ...headers, 'content-length': body.length }).end(body); };
      if (delay > 0) timer = setTimeout(answer, delay);
      else answer();
    });
  }
}
