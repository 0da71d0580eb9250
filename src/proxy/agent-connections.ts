/**
 * An upstream's connections on a node:http keep-alive `Agent` (one socket pool per endpoint, keyed
 * by the agent by host:port), for the engines built on node:http: `node` and `http-proxy-3`.
 */
import http from '../core/node-http.js';
import type { Agent } from 'node:http';
import type { ConnectionOptions, UpstreamConnections } from './engine.js';

export class AgentConnections implements UpstreamConnections {
  readonly agent: Agent;
  readonly connectTimeoutMs: number;

  constructor(options: ConnectionOptions) {
    // The agent's `timeout` applies while a socket sits free in the pool: we close an idle socket
    // before the upstream does, so a reused socket is one the upstream still holds.
    this.agent = new http.Agent({ keepAlive: true, timeout: options.idleTimeoutMs, scheduling: 'lifo' });
    this.connectTimeoutMs = options.connectTimeoutMs;
  }

  describe(): { active: number; idle: number } {
    return { active: count(this.agent.sockets), idle: count(this.agent.freeSockets) };
  }

  dispose(): void {
    const agent = this.agent as Agent & { keepSocketAlive(socket: unknown): boolean };
    agent.keepSocketAlive = () => false;
    for (const list of Object.values(agent.freeSockets)) for (const s of list ?? []) s.destroy();
  }
}

function count(m: NodeJS.ReadOnlyDict<unknown[]>): number {
  let n = 0;
  for (const k in m) n += m[k]?.length ?? 0;
  return n;
}
