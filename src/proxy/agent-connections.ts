/**
 * An upstream's connections on a node:http keep-alive `Agent` (one socket pool per endpoint, keyed
 * by the agent by host:port), for the engines built on node:http: `node` and `http-proxy-3`. With
 * TLS origination the agent's sockets are TLS sockets made by tls-connect.ts (the one connect path
 * of every engine); the HTTP/1.1 client on top is the same, so the engines need not know.
 */
import http from '../core/node-http.js';
import type { Agent, AgentOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions, UpstreamConnections } from './engine.js';
import { connectTls, SessionCache, type UpstreamTls } from './tls-connect.js';

export class AgentConnections implements UpstreamConnections {
  readonly agent: Agent;
  /** The connect timeout the engine arms on a new plaintext socket (a TLS agent bounds its own connect). */
  readonly connectTimeoutMs: number;

  constructor(options: ConnectionOptions) {
    // The agent's `timeout` applies while a socket sits free in the pool: we close an idle socket
    // before the upstream does, so a reused socket is one the upstream still holds.
    const agentOptions = { keepAlive: true, timeout: options.idleTimeoutMs, scheduling: 'lifo' as const };
    this.agent = options.tls === undefined ? new http.Agent(agentOptions) : tlsAgent(agentOptions, options.tls, options.connectTimeoutMs);
    this.connectTimeoutMs = options.tls === undefined ? options.connectTimeoutMs : 0;
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

/**
 * A keep-alive agent whose new sockets are TLS connections, handed to the HTTP client once the
 * server accepted them (the callback form of `createConnection`), so a refused handshake fails the
 * request as a connect failure rather than as a reset of a request already written.
 */
function tlsAgent(options: AgentOptions, config: UpstreamTls, connectTimeoutMs: number): Agent {
  const agent = new http.Agent(options);
  const sessions = new SessionCache();
  (agent as unknown as { createConnection: unknown }).createConnection = (opts: { host?: string; port?: number | string }, cb: (err: Error | null, socket: Duplex) => void): undefined => {
    connectTls(config, sessions, { host: opts.host ?? 'localhost', port: Number(opts.port) || 443 }, connectTimeoutMs, (err, socket) => cb(err, socket as Duplex));
    return undefined;
  };
  return agent;
}

function count(m: NodeJS.ReadOnlyDict<unknown[]>): number {
  let n = 0;
  for (const k in m) n += m[k]?.length ?? 0;
  return n;
}
