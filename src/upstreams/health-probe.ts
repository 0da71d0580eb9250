/**
 * The active health check's probes, each over a fresh connection (a pooled one would say nothing
 * about whether a new connection can be made):
 * - `GET <path>` over HTTP/1.1, healthy on any 2xx;
 * - the same over HTTP/2 (prior knowledge) for a `protocol: http2` upstream;
 * - gRPC's health protocol (SPEC §11 `healthCheck.grpc`): `grpc.health.v1.Health/Check` with the
 *   service name, healthy when the answer is `grpc-status: 0` and `status: SERVING` — Envoy's and
 *   Kubernetes' gRPC probes alike. The two messages are tiny, so they are framed by hand here
 *   rather than loading a protobuf library into the sidecar.
 */
import type { IncomingHttpHeaders as Http2Headers, OutgoingHttpHeaders as Http2OutgoingHeaders } from 'node:http2';
import { http2 } from '../core/lazy-builtins.js';
import http from '../core/node-http.js';
import type { Probe } from '../resilience/index.js';
import type { UpstreamProtocol } from '../proxy/engine.js';

export interface ProbeSpec {
  readonly path?: string | undefined;
  readonly grpc?: { readonly service: string } | undefined;
}

/** The probe a health check's policy asks for, on the upstream's protocol. */
export function probeFor(spec: ProbeSpec, protocol: UpstreamProtocol | undefined): Probe {
  if (spec.grpc) return grpcProbe(spec.grpc.service);
  const path = spec.path ?? '/';
  return protocol === 'http2' ? h2Probe(path) : httpProbe(path);
}

export function httpProbe(path: string): Probe {
  return (endpoint, timeoutMs, signal) => new Promise<boolean>((resolve) => {
    const [host, port] = splitHostPort(endpoint);
    const req = http.request({ host, port, path, method: 'GET', agent: false, timeout: timeoutMs, signal, headers: { 'user-agent': 'pilotfish-health-check' } }, (res) => {
      res.resume();
      res.on('error', () => resolve(false));
      resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** `GET path` over a fresh HTTP/2 session, healthy on any 2xx. */
export function h2Probe(path: string): Probe {
  return (endpoint, timeoutMs, signal) => h2Exchange(endpoint, timeoutMs, signal, { ':method': 'GET', ':path': path }, undefined,
    (headers) => { const s = Number(headers[':status']); return s >= 200 && s < 300; });
}

const SERVING = 1;

/** `grpc.health.v1.Health/Check` for `service` ('' = the server as a whole). */
export function grpcProbe(service: string): Probe {
  const request = grpcFrame(healthCheckRequest(service));
  return (endpoint, timeoutMs, signal) => h2Exchange(endpoint, timeoutMs, signal, {
    ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers',
  }, request, (headers, body, trailers) => {
    const status = (trailers ?? headers)['grpc-status'];
    return Number(headers[':status']) === 200 && status === '0' && servingStatus(body) === SERVING;
  });
}

type Verdict = (headers: Http2Headers, body: Buffer, trailers: Http2Headers | undefined) => boolean;

/** One request on a session of its own, closed after; false on any error, the timeout or the signal. */
function h2Exchange(endpoint: string, timeoutMs: number, signal: AbortSignal | undefined, headers: Http2OutgoingHeaders, body: Buffer | undefined, verdict: Verdict): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const session = http2().connect(`http://${endpoint}`);
    let settled = false;
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      session.destroy();
      resolve(ok);
    };
    const abort = (): void => finish(false);
    const timer = setTimeout(abort, timeoutMs);
    signal?.addEventListener('abort', abort);
    session.on('error', abort);
    const req = session.request({ ...headers, 'user-agent': 'pilotfish-health-check' }, { endStream: body === undefined });
    let head: Http2Headers = {};
    let trailers: Http2Headers | undefined;
    const chunks: Buffer[] = [];
    req.on('response', (h) => { head = h; });
    req.on('trailers', (t) => { trailers = t; });
    req.on('data', (c: Buffer) => { if (chunks.length < 16) chunks.push(c); });
    req.on('end', () => finish(verdict(head, Buffer.concat(chunks), trailers)));
    req.on('error', abort);
    if (body !== undefined) req.end(body);
  });
}

/** HealthCheckRequest { string service = 1; } */
function healthCheckRequest(service: string): Buffer {
  const name = Buffer.from(service);
  if (name.length === 0) return Buffer.alloc(0);
  return Buffer.concat([Buffer.from([0x0a]), varint(name.length), name]);
}

/** HealthCheckResponse { ServingStatus status = 1; } from one gRPC message frame; -1 when unreadable. */
function servingStatus(body: Buffer): number {
  if (body.length < 5 || body[0] !== 0) return -1;
  const msg = body.subarray(5, 5 + body.readUInt32BE(1));
  if (msg.length === 0) return 0; // status UNKNOWN (0) is the default, sent as nothing
  return msg[0] === 0x08 && msg.length >= 2 ? msg[1]! : -1;
}

/** A gRPC length-prefixed message: not compressed, 4-byte big-endian length. */
function grpcFrame(msg: Buffer): Buffer {
  const out = Buffer.alloc(5 + msg.length);
  out.writeUInt32BE(msg.length, 1);
  msg.copy(out, 5);
  return out;
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n > 0x7f) { bytes.push((n & 0x7f) | 0x80); n >>>= 7; }
  bytes.push(n);
  return Buffer.from(bytes);
}

function splitHostPort(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  return [host, Number(address.slice(i + 1))];
}
