/**
 * The HTTP version an upstream is spoken to (SPEC §11 `protocol`), behind the engine seam: this
 * engine wraps the chosen HTTP/1.1 engine (undici, node, http-proxy-3) and adds the HTTP/2 side —
 * sessions pooled per endpoint (http2-pool.ts), one stream per attempt (http2-call.ts).
 *
 * An upstream's connections are the HTTP/1.1 engine's alone for `protocol: http1`; for `http2`
 * and `downstream` they are both pools, each filled only once used, and every attempt goes to the
 * one its request needs (`downstream`: the version the request came in on). With TLS origination
 * (`tls`) both pools connect through the one TLS path (tls-connect.ts): HTTP/2 by ALPN `h2`. The pipeline, the
 * registry and `/clusters` see one `UpstreamConnections` per upstream, as before.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProxyRequest, ProxyResponse } from '../core/context.js';
import type { Attempt, ConnectionOptions, ForwardingEngine, UpstreamConnections, UpstreamProtocol } from './engine.js';
import { Http2Call } from './http2-call.js';
import { Http2Connections } from './http2-pool.js';

/** An upstream's connections when HTTP/2 may carry its requests. */
class MixedConnections implements UpstreamConnections {
  readonly h2: Http2Connections;

  constructor(readonly protocol: Exclude<UpstreamProtocol, 'http1'>, readonly h1: UpstreamConnections, options: ConnectionOptions) {
    this.h2 = new Http2Connections(options);
  }

  describe(): { active: number; idle: number } {
    const a = this.h1.describe();
    const b = this.h2.describe();
    return { active: a.active + b.active, idle: a.idle + b.idle };
  }

  dispose(): void {
    this.h1.dispose();
    this.h2.dispose();
  }
}

export class ProtocolEngine implements ForwardingEngine {
  constructor(private readonly http1: ForwardingEngine) {}

  connections(upstream: string, options: ConnectionOptions): UpstreamConnections {
    const h1 = this.http1.connections(upstream, options);
    const protocol = options.protocol ?? 'downstream';
    if (protocol === 'http1') return h1;
    return new MixedConnections(protocol, h1, options);
  }

  forward(req: ProxyRequest, attempt: Attempt): Promise<ProxyResponse> {
    const c = attempt.connections;
    if (!(c instanceof MixedConnections)) return this.http1.forward(req, attempt);
    if (c.protocol === 'http2' || req.protocol === 'http2') {
      const h2: Attempt = { target: attempt.target, connections: c.h2, timeoutMs: attempt.timeoutMs };
      return new Promise((resolve, reject) => new Http2Call(req, h2, false, resolve, reject).send());
    }
    return this.http1.forward(req, { target: attempt.target, connections: c.h1, timeoutMs: attempt.timeoutMs });
  }

  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, target: URL, onError: (err: Error) => void): void {
    this.http1.upgrade(req, socket, head, target, onError);
  }

  close(): void {
    this.http1.close();
  }
}
