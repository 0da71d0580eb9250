/**
 * Traffic mirroring (SPEC §5): a copy of `percent` of requests goes to the mirror upstream, fire and
 * forget, Host suffixed `-shadow`. The shadow never touches the primary: its request starts beside the
 * primary's, its answer is read and discarded, its failure is only counted. A body is mirrored from
 * the buffer (≤ 1 MiB; larger bodies are not mirrored, counted `dropped`) — except a gRPC call's,
 * a stream of messages the client may send only after answers come back: it is copied to the shadow
 * as it streams to the primary (the retry layer's recording, `RecordedBody.mirror`), never waiting
 * for the shadow, and past 1 MiB the shadow's copy is cut off (counted `dropped`). At most
 * `MAX_IN_FLIGHT` shadows per route run at once — a slow mirror is dropped, never back-pressures.
 * With `compare`, the shadow's status and body digest are compared with the primary's (whose body
 * is hashed as it streams to the client). The shadow goes through the forwarding engine like any
 * try, as a request with no client behind it, on the mirror upstream's connections.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import { Transform, pipeline, type Readable } from 'node:stream';
import type { Layer, ProxyRequest, ProxyResponse } from '../core/context.js';
import { DetachedRequest } from '../core/detached-request.js';
import type { ProxyEvents } from '../core/events.js';
import { UNRECORDED_TRY, type TryTrace } from '../core/observer.js';
import type { ForwardingEngine } from '../proxy/engine.js';
import type { UpstreamState } from '../upstreams/index.js';
import { bufferBody, type BodyCopy, hasBody, RecordedBody, RETRY_BUFFER_LIMIT, type MemoryPressure } from './body.js';
import { trailersArrived, trailersOf } from '../proxy/trailers.js';
import { grpcStatusForHttp, grpcStatusOf, isGrpc, rpcAttributes } from '../core/grpc.js';

export const MAX_IN_FLIGHT = 256;

interface Seen { status: number; digest: string }

export interface MirrorSpec {
  readonly route: string;
  readonly upstream: UpstreamState;
  readonly percent: number;
  readonly compare: boolean;
  readonly timeoutMs: number;
}

export function mirrorLayer(spec: MirrorSpec, events: ProxyEvents, engine: ForwardingEngine, pressure?: MemoryPressure): Layer {
  let inFlight = 0;
  return (next) => async (req, ctx) => {
    if (Math.random() * 100 >= spec.percent) return next(req, ctx);
    if (pressure?.shedding) { // shadow traffic is the first thing to go under memory pressure
      events.mirror(spec.route, 'dropped');
      return next(req, ctx);
    }
    const unread = hasBody(req) && req.body === undefined && req.bodyStream === undefined;
    // A gRPC call's body cannot be waited for (a streaming call would hang): it is copied live below.
    const live = unread && isGrpc(req.headers['content-type']);
    if (unread && !live) await bufferBody(req, RETRY_BUFFER_LIMIT, pressure);
    const endpoint = spec.upstream.balancer(undefined, false).pick(spec.upstream.eligible(undefined));
    if (req.bodyStream !== undefined || inFlight >= MAX_IN_FLIGHT || !endpoint) {
      events.mirror(spec.route, 'dropped');
      return next(req, ctx);
    }
    let copy: BodyCopy | undefined;
    if (live) {
      const recorded = new RecordedBody(req.source, RETRY_BUFFER_LIMIT, pressure);
      req.bodyStream = recorded; // the retry layer keeps recording it for a replay
      copy = recorded.mirror(RETRY_BUFFER_LIMIT);
    }
    inFlight++;
    const trace = ctx.trace;
    const span = trace.recording ? trace.startClient({ method: req.method, endpoint: endpoint.address, path: req.path, upstream: spec.upstream.name, subset: '', attempt: 1, mirror: true }) : trace.startClient(UNRECORDED_TRY);
    const shadow = sendShadow(req, endpoint.url, spec, engine, span, trace.recording, copy).finally(() => { inFlight--; });
    shadow.catch(() => {}); // counted below; never an unhandled rejection
    // A copy cut off at the body limit was not mirrored, as a buffered body over it is not.
    const failed = (): void => events.mirror(spec.route, copy?.truncated === true ? 'dropped' : 'error');
    const resp = await next(req, ctx);
    if (!spec.compare) {
      shadow.then(() => events.mirror(spec.route, 'sent'), failed);
      return resp;
    }
    const { tapped, seen } = digestOf(resp);
    Promise.all([shadow, seen]).then(
      ([s, p]) => events.mirror(spec.route, s.status !== p.status ? 'status_mismatch' : s.digest !== p.digest ? 'body_mismatch' : 'match'),
      failed,
    );
    return tapped;
  };
}

function shadowHost(host: string): string {
  const m = /^(.*?)(:\d+)?$/.exec(host)!;
  return `${m[1]}-shadow${m[2] ?? ''}`;
}

function sendShadow(req: ProxyRequest, target: URL, spec: MirrorSpec, engine: ForwardingEngine, span: TryTrace, recording: boolean, copy: BodyCopy | undefined): Promise<Seen> {
  const headers: IncomingHttpHeaders = { ...req.headers };
  span.inject(headers as Record<string, unknown>);
  const shadow = new DetachedRequest(req.method, shadowHost(req.host), req.path, headers, req.body);
  shadow.bodyStream = copy;
  shadow.protocol = req.protocol;
  const started = performance.now();
  let answer: ProxyResponse | undefined;
  const seen = engine.forward(shadow, { target, connections: spec.upstream.connections, timeoutMs: spec.timeoutMs })
    .then((resp) => { answer = resp; return readDigest(resp, spec.timeoutMs - (performance.now() - started)); });
  // A gRPC shadow's span has the RPC attributes of any try's: its status from the trailers (read to the end by now).
  // An unrecorded one (tracing off, or unsampled) gets no attribute object: its end ignores them.
  const grpc = recording && isGrpc(req.headers['content-type']);
  seen.then((s) => span.end(s.status, grpc && answer ? rpcAttributes(shadow.path, grpcStatusOfAnswer(answer)) : undefined), (err: Error) => span.end(err));
  return seen;
}

function grpcStatusOfAnswer(resp: ProxyResponse): number {
  const body = resp.body;
  return grpcStatusOf(Buffer.isBuffer(body) ? resp.headers : trailersOf(body)) ?? grpcStatusOf(resp.headers) ?? grpcStatusForHttp(resp.status);
}

/**
 * Reads an answer to its end, keeping only its status and the digest of its body. The engine's
 * timer covers the wait for the headers; what is left of the route timeout bounds the body, so a
 * shadow that stalls mid-body gives its in-flight slot back.
 */
function readDigest(resp: ProxyResponse, remainingMs: number): Promise<Seen> {
  const body = resp.body;
  if (Buffer.isBuffer(body)) return Promise.resolve({ status: resp.status, digest: createHash('sha256').update(body).digest('hex') });
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const timer = setTimeout(() => body.destroy(new Error('mirror timeout')), Math.max(1, remainingMs));
    let ended = false;
    body.on('data', (c: Buffer) => hash.update(c));
    body.on('end', () => { ended = true; resolve({ status: resp.status, digest: hash.digest('hex') }); });
    body.on('error', reject);
    // 'close' comes last in every case: after 'end', after an error, or destroyed without one.
    body.on('close', () => { clearTimeout(timer); if (!ended) reject(new Error('mirror answer cut short')); });
  });
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
    flush(cb) {
      // The upstream's trailers (a gRPC status) arrived before its end: they go on with the tapped body.
      const trailers = trailersOf(resp.body as Readable);
      if (trailers !== undefined) trailersArrived(tap, trailers);
      settle({ status: resp.status, digest: hash.digest('hex') });
      cb();
    },
  });
  pipeline(resp.body, tap, (err) => { if (err) fail(err); });
  return { tapped: { ...resp, body: tap }, seen };
}
