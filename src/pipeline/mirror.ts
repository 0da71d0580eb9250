/**
 * Traffic mirroring (SPEC §5): a copy of `percent` of requests goes to the mirror upstream, fire and
 * forget, Host suffixed `-shadow`. The shadow never touches the primary: its request starts beside the
 * primary's, its answer is read and discarded, its failure is only counted. A body is mirrored from
 * the buffer (≤ 1 MiB; larger bodies are not mirrored, counted `dropped`), and at most
 * `MAX_IN_FLIGHT` shadows per route run at once — a slow mirror is dropped, never back-pressures.
 * With `compare`, the shadow's status and body digest are compared with the primary's (whose body
 * is hashed as it streams to the client).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { Transform, pipeline } from 'node:stream';
import type { Layer, ProxyRequest, ProxyResponse } from '../core/context.js';
import type { ProxyEvents } from '../core/events.js';
import type { TryTrace } from '../core/observer.js';
import type { UpstreamState } from '../upstreams/index.js';
import { bufferBody, hasBody } from './body.js';

export const MAX_IN_FLIGHT = 256;

interface Seen { status: number; digest: string }

export interface MirrorSpec {
  readonly route: string;
  readonly upstream: UpstreamState;
  readonly percent: number;
  readonly compare: boolean;
  readonly timeoutMs: number;
}

export function mirrorLayer(spec: MirrorSpec, events: ProxyEvents): Layer {
  let inFlight = 0;
  return (next) => async (req, ctx) => {
    if (Math.random() * 100 >= spec.percent) return next(req, ctx);
    if (hasBody(req) && req.body === undefined && req.bodyStream === undefined) await bufferBody(req);
    const endpoint = spec.upstream.balancer(undefined, false).pick(spec.upstream.eligible(undefined));
    if (req.bodyStream !== undefined || inFlight >= MAX_IN_FLIGHT || !endpoint) {
      events.mirror(spec.route, 'dropped');
      return next(req, ctx);
    }
    inFlight++;
    const span = ctx.trace.startClient({ method: req.method, endpoint: endpoint.address, path: req.path, upstream: spec.upstream.name, subset: '', attempt: 1, mirror: true });
    const shadow = sendShadow(req, endpoint.url, spec, span).finally(() => { inFlight--; });
    shadow.catch(() => {}); // counted below; never an unhandled rejection
    const resp = await next(req, ctx);
    if (!spec.compare) {
      shadow.then(() => events.mirror(spec.route, 'sent'), () => events.mirror(spec.route, 'error'));
      return resp;
    }
    const { tapped, seen } = digestOf(resp);
    Promise.all([shadow, seen]).then(
      ([s, p]) => events.mirror(spec.route, s.status !== p.status ? 'status_mismatch' : s.digest !== p.digest ? 'body_mismatch' : 'match'),
      () => events.mirror(spec.route, 'error'),
    );
    return tapped;
  };
}

function shadowHost(host: string): string {
  const m = /^(.*?)(:\d+)?$/.exec(host)!;
  return `${m[1]}-shadow${m[2] ?? ''}`;
}

function sendShadow(req: ProxyRequest, target: URL, spec: MirrorSpec, span: TryTrace): Promise<Seen> {
  const seen = new Promise<Seen>((resolve, reject) => {
    const headers: Record<string, unknown> = { ...req.headers, host: shadowHost(req.host) };
    span.inject(headers);
    const out = http.request({
      host: target.hostname, port: target.port, method: req.method, path: req.path, headers: headers as http.OutgoingHttpHeaders, agent: spec.upstream.agent, timeout: spec.timeoutMs,
    }, (res) => {
      const hash = createHash('sha256');
      res.on('data', (c: Buffer) => hash.update(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, digest: hash.digest('hex') }));
      res.on('error', reject);
    });
    out.on('timeout', () => out.destroy(new Error('mirror timeout')));
    out.on('error', reject);
    out.end(req.body);
  });
  seen.then((s) => span.end(s.status), (err: Error) => span.end(err));
  return seen;
}

/** The primary answer with its body hashed on the way to the client. */
function digestOf(resp: ProxyResponse): { tapped: ProxyResponse; seen: Promise<Seen> } {
  if (Buffer.isBuffer(resp.body)) {
    return { tapped: resp, seen: Promise.resolve({ status: resp.status, digest: createHash('sha256').update(resp.body).digest('hex') }) };
  }
  const hash = createHash('sha256');
  let settle!: (s: Seen) => void;
  let fail!: (e: Error) => void;
  const seen = new Promise<Seen>((resolve, reject) => { settle = resolve; fail = reject; });
  seen.catch(() => {});
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) { hash.update(chunk); cb(null, chunk); },
    flush(cb) { settle({ status: resp.status, digest: hash.digest('hex') }); cb(); },
  });
  pipeline(resp.body, tap, (err) => { if (err) fail(err); });
  return { tapped: { ...resp, body: tap }, seen };
}
