/**
 * The forwarding engine on `node:http` directly: one `http.request` per attempt on the upstream's
 * keep-alive agent, with the contract every engine keeps — headers already cleaned and set by the
 * edge, a per-attempt timer, a connect timeout armed only while a new socket connects, a client that
 * leaves cancels the upstream request, one replay of an idempotent request on a stale pooled socket,
 * errors classified UF / UC / UT / DC. WebSocket upgrades go through http-proxy-3 (loaded on the
 * first one). Selected with `pilotfish run --engine node`.
 */
import http from '../core/node-http.js';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProxyRequest, ProxyResponse } from '../core/context.js';
import { AgentConnections } from './agent-connections.js';
import { ClientRequestCall } from './attempt-call.js';
import { bodiless, unbracket, type Attempt, type ConnectionOptions, type ForwardingEngine } from './engine.js';
import { LazyUpgrader } from './ws-upgrade.js';

export class NodeHttpEngine implements ForwardingEngine {
  private readonly ws = new LazyUpgrader();

  connections(_upstream: string, options: ConnectionOptions): AgentConnections {
    return new AgentConnections(options);
  }

  forward(req: ProxyRequest, attempt: Attempt): Promise<ProxyResponse> {
    return new Promise((resolve, reject) => new NodeCall(req, attempt, false, resolve, reject).send());
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, target: URL, onError: (err: Error) => void): void {
    this.ws.upgrade(req, socket, head, target, onError);
  }

  close(): void {
    this.ws.close();
  }
}

/** An attempt as one `http.request`; a client that leaves before the answer cancels it. */
export class NodeCall extends ClientRequestCall {
  private readonly clientGone = (): void => this.onClientGone();

  send(): void {
    const { req, attempt } = this;
    if (req.downstreamGone) { this.onClientGone(); return; }
    req.headers.host = req.host;
    const target = attempt.target;
    const connections = attempt.connections as AgentConnections;
    const pr = http.request({
      host: unbracket(target.hostname),
      port: target.port || 80,
      method: req.method,
      path: req.path,
      headers: req.headers,
      agent: connections.agent,
    });
    this.proxyReq = pr;
    pr.on('error', (err) => this.onError(err));
    pr.on('response', (res) => this.onResponse(res));
    const connectTimeoutMs = connections.connectTimeoutMs;
    if (connectTimeoutMs > 0) pr.once('socket', (socket) => armConnectTimeout(socket, connectTimeoutMs));
    req.onDownstreamClose(this.clientGone);
    if (req.body !== undefined) {
      pr.end(req.body);
    } else if (req.bodyStream !== undefined) {
      req.bodyStream.once('error', (err) => pr.destroy(err));
      req.bodyStream.pipe(pr);
    } else if (bodiless(req)) {
      pr.end(); // Node's server drains the unread request itself; a replay is always buffered or bodiless
    } else {
      const source = req.source;
      source.once('error', (err) => pr.destroy(err));
      source.pipe(pr);
    }
  }

  protected released(): void {
    this.req.offDownstreamClose(this.clientGone);
  }

  protected again(): void {
    new NodeCall(this.req, this.attempt, true, this.resolve, this.reject).send();
  }
}

/** Bounds only the connect of a new socket (a reused one is connected already), as http-proxy-3 does. */
function armConnectTimeout(socket: Duplex & { connecting?: boolean }, ms: number): void {
  if (!socket.connecting) return;
  const timer = setTimeout(() => {
    const err = new Error('ECONNECT_TIMEOUT') as NodeJS.ErrnoException;
    err.code = 'ECONNECT_TIMEOUT';
    socket.destroy(err);
  }, ms).unref();
  const clear = (): void => clearTimeout(timer);
  socket.once('connect', clear);
  socket.once('close', clear);
}
