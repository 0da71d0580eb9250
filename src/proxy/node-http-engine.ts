/**
 * The second forwarding engine: `node:http` directly, one `http.request` per attempt on the
 * upstream's keep-alive agent, with the same contract as the http-proxy-3 engine — headers already
 * cleaned and set by the edge, a per-attempt timer, a connect timeout armed only while a new socket
 * connects, a client that leaves cancels the upstream request, one replay of an idempotent request on
 * a stale pooled socket, errors classified UF / UC / UT / DC. WebSocket upgrades still go through
 * http-proxy-3. Selected with `pilotfish run --engine node`; measured against http-proxy-3 in
 * `npm run bench` (it skips http-proxy-3's per-call machinery: options merge, passes, header copy).
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProxyRequest, ProxyResponse } from '../core/context.js';
import { downstreamDisconnect } from '../core/errors.js';
import { AttemptCall } from './attempt-call.js';
import { bodiless, type Attempt, type ForwardingEngine } from './engine.js';
import { HttpProxyEngine } from './http-proxy-engine.js';

export class NodeHttpEngine implements ForwardingEngine {
  private readonly ws = new HttpProxyEngine();

  forward(req: ProxyRequest, attempt: Attempt): Promise<ProxyResponse> {
    return new Promise((resolve, reject) => new NodeCall(req, attempt, false, resolve, reject).send());
  }

  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, target: URL, onError: (err: Error) => void): void {
    this.ws.upgrade(req, socket, head, target, onError);
  }

  close(): void {
    this.ws.close();
  }
}

/** An attempt as one `http.request`; a client that leaves before the answer cancels it. */
class NodeCall extends AttemptCall {
  private readonly onClientGone = (): void => {
    // The client left before the upstream answered: nothing will read this answer.
    if (this.settle()) {
      this.proxyReq?.destroy();
      this.reject(downstreamDisconnect());
    }
  };

  send(): void {
    const { req, attempt } = this;
    const raw = req.raw;
    if (req.res.destroyed || raw.socket.destroyed) {
      this.settle();
      this.reject(downstreamDisconnect());
      return;
    }
    req.headers.host = req.host;
    const target = attempt.target;
    const pr = http.request({
      host: target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname,
      port: target.port || 80,
      method: req.method,
      path: req.path,
      headers: req.headers,
      agent: attempt.agent,
    });
    this.proxyReq = pr;
    pr.on('error', (err) => this.onError(err));
    pr.on('response', (res) => this.onResponse(res));
    if (attempt.connectTimeoutMs > 0) pr.once('socket', (socket) => armConnectTimeout(socket, attempt.connectTimeoutMs));
    req.res.once('close', this.onClientGone);
    if (req.body !== undefined) {
      pr.end(req.body);
    } else if (req.bodyStream !== undefined) {
      req.bodyStream.once('error', (err) => pr.destroy(err));
      req.bodyStream.pipe(pr);
    } else if (bodiless(req)) {
      pr.end(); // Node's server drains the unread request itself; a replay is always buffered or bodiless
    } else {
      raw.once('error', (err) => pr.destroy(err));
      raw.pipe(pr);
    }
  }

  protected released(): void {
    this.req.res.off('close', this.onClientGone);
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

