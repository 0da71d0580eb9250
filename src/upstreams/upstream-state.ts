/**
 * Per-upstream state that outlives a policy reload while the upstream's definition is unchanged: the
 * keep-alive agent (its pooled sockets), the endpoints and subsets, and the load-balancing cursor.
 * Later layers (breakers, outlier detection, health) hang their state here too.
 */
import http from 'node:http';
import type { UpstreamPolicy } from '../config/index.js';
import { makeEndpoint, selects, type Endpoint } from './endpoint.js';

export interface UpstreamOptions {
  /** Idle keep-alive sockets are closed after this long (ms). Must stay below the upstream server's
   * own keep-alive timeout (Node's default 5s) so a reused socket never races the server's close. */
  idleTimeout: number;
  connectTimeout: number;
  maxConnections: number;
}

export class UpstreamState {
  readonly name: string;
  readonly hash: string;
  readonly agent: http.Agent;
  readonly endpoints: readonly Endpoint[];
  readonly options: UpstreamOptions;
  private readonly subsets = new Map<string, Endpoint[]>();
  private cursor = 0;
  private disposed = false;

  constructor(name: string, hash: string, endpoints: readonly Endpoint[], subsets: Readonly<Record<string, Readonly<Record<string, string>>>>, options: UpstreamOptions) {
    this.name = name;
    this.hash = hash;
    this.endpoints = endpoints;
    this.options = options;
    for (const [subset, selector] of Object.entries(subsets)) {
      this.subsets.set(subset, endpoints.filter((e) => selects(selector, e)));
    }
    // The agent's `timeout` is applied to sockets while they sit free in the pool: an idle socket is
    // closed by us before the upstream closes it, so a reused socket is one the upstream still holds.
    this.agent = new http.Agent({ keepAlive: true, timeout: options.idleTimeout, maxSockets: options.maxConnections, scheduling: 'lifo' });
  }

  static fromPolicy(name: string, hash: string, policy: UpstreamPolicy): UpstreamState {
    const endpoints = policy.endpoints.map((e) => makeEndpoint(e.address, e.labels));
    const pool = policy.connectionPool;
    return new UpstreamState(name, hash, endpoints, policy.subsets, {
      idleTimeout: pool.idleTimeout, connectTimeout: pool.connectTimeout, maxConnections: pool.maxConnections,
    });
  }

  /** Endpoints of a subset (or all of them), in policy order. */
  members(subset: string | undefined): readonly Endpoint[] {
    return subset === undefined ? this.endpoints : (this.subsets.get(subset) ?? []);
  }

  /** Round-robin over the members; undefined when there are none. */
  pick(subset: string | undefined): Endpoint | undefined {
    const list = this.members(subset);
    if (list.length === 0) return undefined;
    const e = list[this.cursor % list.length]!;
    this.cursor = (this.cursor + 1) % 0x7fffffff;
    return e;
  }

  /** The /clusters view of this upstream. */
  describe(): Record<string, unknown> {
    const count = (m: NodeJS.ReadOnlyDict<unknown[]>): number => Object.values(m).reduce((n, l) => n + (l?.length ?? 0), 0);
    return {
      subsets: Object.fromEntries([...this.subsets].map(([name, list]) => [name, list.map((e) => e.address)])),
      connections: { active: count(this.agent.sockets), idle: count(this.agent.freeSockets) },
      endpoints: this.endpoints.map((e) => ({ address: e.address, labels: e.labels, healthy: true, ejected: false })),
    };
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Closes pooled sockets now; sockets carrying a request finish it and are closed when freed. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const agent = this.agent as http.Agent & { keepSocketAlive(socket: unknown): boolean };
    agent.keepSocketAlive = () => false;
    for (const list of Object.values(agent.freeSockets)) for (const s of list ?? []) s.destroy();
  }
}
