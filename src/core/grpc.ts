/**
 * gRPC as the sidecar sees it (SPEC §11): which requests are gRPC, the status codes and the names
 * `retryOn` knows them by, `grpc-timeout`, a trailers-only answer's `grpc-status`, and the
 * sidecar's own answers in gRPC form (HTTP 200, trailers-only, `grpc-status` + `grpc-message`).
 * Pure: no node:http2 here; the edges and the pipeline call it.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { ResponseFlag } from './errors.js';

/** The gRPC status codes (grpc/doc/statuscodes.md). */
export const GrpcStatus = Object.freeze({
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
});

/**
 * The statuses `retryOn` takes by name, and that count as upstream failures for breakers and
 * outlier detection (Envoy's `retry_on` gRPC conditions).
 */
export const GRPC_RETRY_NAMES = Object.freeze({
  cancelled: GrpcStatus.CANCELLED,
  'deadline-exceeded': GrpcStatus.DEADLINE_EXCEEDED,
  internal: GrpcStatus.INTERNAL,
  'resource-exhausted': GrpcStatus.RESOURCE_EXHAUSTED,
  unavailable: GrpcStatus.UNAVAILABLE,
});
export type GrpcRetryName = keyof typeof GRPC_RETRY_NAMES;
export const GRPC_RETRY_NAME_LIST = Object.keys(GRPC_RETRY_NAMES) as [GrpcRetryName, ...GrpcRetryName[]];

/** The outcome a failed gRPC status gives a try (resilience/outcome.ts): `grpc-<name>`. */
export type GrpcFailure = `grpc-${GrpcRetryName}`;

const FAILURE_BY_CODE: ReadonlyMap<number, GrpcFailure> = new Map(
  Object.entries(GRPC_RETRY_NAMES).map(([name, code]) => [code, `grpc-${name}` as GrpcFailure]),
);

/** `content-type: application/grpc`, `application/grpc+proto`, `application/grpc;…` (not grpc-web). */
export function isGrpc(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && contentType.startsWith('application/grpc')
    && (contentType.length === 16 || contentType.charCodeAt(16) === 43 /* + */ || contentType.charCodeAt(16) === 59 /* ; */);
}

/** A request's own `grpc-timeout` (`<digits><unit>`, units H M S m u n), in ms; undefined if absent or malformed. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || value.length < 2 || value.length > 9) return undefined;
  const n = Number(value.slice(0, -1));
  if (!Number.isInteger(n) || n < 0) return undefined;
  switch (value[value.length - 1]) {
    case 'H': return n * 3_600_000;
    case 'M': return n * 60_000;
    case 'S': return n * 1000;
    case 'm': return n;
    case 'u': return n / 1000;
    case 'n': return n / 1_000_000;
    default: return undefined;
  }
}

/** The `grpc-status` of a header block (a trailers-only answer's headers, or trailers), else undefined. */
export function grpcStatusOf(headers: IncomingHttpHeaders | OutgoingHttpHeaders | undefined): number | undefined {
  const v = headers?.['grpc-status'];
  if (v === undefined) return undefined;
  const n = Number(Array.isArray(v) ? v[0] : v);
  return Number.isInteger(n) ? n : undefined;
}

/** The try outcome of a gRPC status that counts as a failure; undefined for any other. */
export function grpcFailure(code: number | undefined): GrpcFailure | undefined {
  return code === undefined ? undefined : FAILURE_BY_CODE.get(code);
}

/** The sidecar's own answers (SPEC §11): a flag's gRPC status. */
export function grpcStatusForFlag(flag: ResponseFlag | undefined, httpStatus: number): number {
  // A string switch: `AD` (SPEC §12) and `OM` may not be in this build's flag set.
  switch (flag as string | undefined) {
    case 'UH': case 'UF': case 'UC': case 'UO': case 'CO': case 'OM': return GrpcStatus.UNAVAILABLE;
    case 'UT': return GrpcStatus.DEADLINE_EXCEEDED;
    case 'NR': return httpStatus === 404 ? GrpcStatus.UNIMPLEMENTED : GrpcStatus.INTERNAL;
    case 'AD': return GrpcStatus.PERMISSION_DENIED;
    case 'RL': return GrpcStatus.RESOURCE_EXHAUSTED;
    default: return grpcStatusForHttp(httpStatus);
  }
}

/** gRPC's HTTP → status mapping (grpc/doc/http-grpc-status-mapping.md), for a plain HTTP status. */
export function grpcStatusForHttp(status: number): number {
  switch (status) {
    case 400: return GrpcStatus.INTERNAL;
    case 401: return GrpcStatus.UNAUTHENTICATED;
    case 403: return GrpcStatus.PERMISSION_DENIED;
    case 404: return GrpcStatus.UNIMPLEMENTED;
    case 429: case 502: case 503: case 504: return GrpcStatus.UNAVAILABLE;
    default: return status >= 200 && status < 300 ? GrpcStatus.OK : GrpcStatus.UNKNOWN;
  }
}

/** The HTTP status a gRPC status stands for when a non-gRPC request meets it (a `grpcStatus` fault). */
export function httpStatusForGrpc(code: number): number {
  switch (code) {
    case GrpcStatus.OK: return 200;
    case GrpcStatus.INVALID_ARGUMENT: case GrpcStatus.FAILED_PRECONDITION: case GrpcStatus.OUT_OF_RANGE: return 400;
    case GrpcStatus.UNAUTHENTICATED: return 401;
    case GrpcStatus.PERMISSION_DENIED: return 403;
    case GrpcStatus.NOT_FOUND: return 404;
    case GrpcStatus.ALREADY_EXISTS: case GrpcStatus.ABORTED: return 409;
    case GrpcStatus.RESOURCE_EXHAUSTED: return 429;
    case GrpcStatus.CANCELLED: return 499;
    case GrpcStatus.UNIMPLEMENTED: return 501;
    case GrpcStatus.UNAVAILABLE: return 503;
    case GrpcStatus.DEADLINE_EXCEEDED: return 504;
    default: return 500;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * A trailers-only gRPC answer: HTTP 200, `content-type: application/grpc`, the status and message
 * in the one header block (the HTTP/2 edge sends an empty body as `END_STREAM` on the headers).
 * `grpc-message` is percent-encoded as the protocol asks.
 */
export function grpcAnswer(code: number, message: string): { status: number; headers: OutgoingHttpHeaders; body: Buffer } {
  return { status: 200, headers: { 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) }, body: EMPTY };
}

/** Percent-encodes what gRPC's `grpc-message` may not carry raw (outside printable ASCII, and `%`). */
export function encodeGrpcMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) { plain = false; break; }
  }
  if (plain) return message;
  let out = '';
  for (const byte of Buffer.from(message)) {
    out += byte < 0x20 || byte > 0x7e || byte === 0x25 ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(byte);
  }
  return out;
}

/**
 * OpenTelemetry's RPC conventions for a gRPC call (SPEC §11), on its SERVER span and on each try's
 * CLIENT span: `rpc.system`, `rpc.service` and `rpc.method` from the path `/package.Service/Method`,
 * `rpc.grpc.status_code`.
 */
export function rpcAttributes(path: string, grpcStatus: number): Readonly<Record<string, string | number>> {
  const slash = path.indexOf('/', 1);
  const q = path.indexOf('?');
  const end = q < 0 ? path.length : q;
  return {
    'rpc.system': 'grpc',
    ...(slash > 1 ? { 'rpc.service': path.slice(1, slash), 'rpc.method': path.slice(slash + 1, end) } : {}),
    'rpc.grpc.status_code': grpcStatus,
  };
}
