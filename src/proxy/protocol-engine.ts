/**
 * The HTTP version an upstream is spoken to (SPEC §11 `protocol`), behind the engine seam: this
 * engine wraps the chosen HTTP/1.1 engine (undici, node, http-proxy-3) and adds the HTTP/2 side —
 * sessions pooled per endpoint (http2-pool.ts), one stream per attempt (http2-call.ts).
 *
 * An upstream's connections are the HTTP/1.1 engine's alone for `protocol: http1`; for `http2`
 * and `downstream` they are both pools, each filled only once used, and every attempt goes to the
 * one its request needs (`downstream`: the version the request came in on). With TLS origination
 * (`tls`) both pools connect through the one TLS path (tls-connect.ts): HTTP/2 by ALPN `h2`; for
 * `downstream`, an endpoint that answers ALPN with `http/1.1` gets its HTTP/2 clients' requests over
 * HTTP/1.1 (learnt on its first connection, http2-pool.ts `negotiate`). The pipeline, the
 * registry and `/clusters` see one `UpstreamConnections` per upstream, as before.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProxyRequest, ProxyResponse } from '../core/context.js';
import type { Attempt, ConnectionOptions, ForwardingEngine, UpstreamConnections, UpstreamProtocol } from './engine.js';
import { Http2Call } from './http2-call.js';
import { Http2Connections, type EndpointSessions } from './http2-pool.js';
import { performance } from 'node:perf_hooks';
import { connectFailure } from '../core/errors.js';

/** An upstream's connections when HTTP/2 may carry its requests. */
class MixedConnections implements UpstreamConnections {
  readonly h2: Http2Connections;
  /** TLS origination: a `downstream` upstream's endpoints may answer ALPN with `http/1.1`. */
  readonly tls: boolean;

  constructor(readonly protocol: Exclude<UpstreamProtocol, 'http1'>, readonly h1: UpstreamConnections, options: ConnectionOptions) {
    this.h2 = new Http2Connections(options);
    this.tls = options.tls !== undefined;
  }

  describe(): { active: number; idle: number } {
    const a = this.h1.describe();
    const b = this.h2.describe();
    return { active: a.active + b.active, idle: a.idle + b.idle };
  }

  /** `downstream`: the HTTP/1.1 pool (what most clients speak); an `http2` upstream's sessions are not warmed. */
  warm(targets: readonly URL[], perEndpoint: number): void {
    if (this.protocol === 'downstream') this.h1.warm?.(targets, perEndpoint);
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
    if (c.protocol === 'http2') return this.h2(req, c, attempt.target, attempt.timeoutMs);
    if (req.protocol === 'http2') {
      if (!c.tls) return this.h2(req, c, attempt.target, attempt.timeoutMs);
      // Over TLS the endpoint says by ALPN whether it speaks HTTP/2; until one connection has told, wait for it.
      const pool = c.h2.endpoint(attempt.target);
      if (pool.negotiated === 'h2') return this.h2(req, c, attempt.target, attempt.timeoutMs);
      if (pool.negotiated === undefined) return this.negotiated(req, c, attempt, pool);
    }
    return this.http1.forward(req, { target: attempt.target, connections: c.h1, timeoutMs: attempt.timeoutMs });
  }

  private h2(req: ProxyRequest, c: MixedConnections, target: URL, timeoutMs: number): Promise<ProxyResponse> {
    const h2: Attempt = { target, connections: c.h2, timeoutMs };
    return new Promise((resolve, reject) => new Http2Call(req, h2, false, resolve, reject).send());
  }

  /** The first requests to a `downstream` TLS endpoint: the try's time left once the handshake has said which version. */
  private async negotiated(req: ProxyRequest, c: MixedConnections, attempt: Attempt, pool: EndpointSessions): Promise<ProxyResponse> {
    const t0 = performance.now();
    let chose;
    try {
      chose = await pool.negotiate();
    } catch (err) {
      throw connectFailure(attempt.target.host, err);
    }
    const timeoutMs = Math.max(1, attempt.timeoutMs - (performance.now() - t0));
    if (chose === 'h2') return this.h2(req, c, attempt.target, timeoutMs);
    return this.http1.forward(req, { target: attempt.target, connections: c.h1, timeoutMs });
  }

  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, target: URL, onError: (err: Error) => void): void {
    this.http1.upgrade(req, socket, head, target, onError);
  }

  close(): void {
    this.http1.close();
  }
}
