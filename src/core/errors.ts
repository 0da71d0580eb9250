/**
 * One error base for everything the sidecar answers itself. Each error carries a stable `code`, the
 * Envoy-style response flag and the HTTP status; `rescue()` (proxy/rescue.ts) is the only place that
 * turns them into responses.
 */
export type ResponseFlag = 'NR' | 'UH' | 'UF' | 'UO' | 'CO' | 'URX' | 'UT' | 'UC' | 'DI' | 'FI' | 'DC' | 'RL' | 'OM' | 'AD';

export class ProxyError extends Error {
  readonly code: string;
  readonly flag: ResponseFlag;
  readonly status: number;
  /** Headers the sidecar's answer carries besides its own (a 429's `retry-after` and RateLimit fields). */
  headers?: Readonly<Record<string, string>>;
  /** Fields the sidecar's JSON answer carries besides `error` and `flags` (a 403 `AD` names its rule). */
  body?: Readonly<Record<string, unknown>>;
  /** Why the upstream's TLS failed (Envoy's `UPSTREAM_TRANSPORT_FAILURE_REASON`), for the access log. */
  transportFailure?: string;

  constructor(code: string, flag: ResponseFlag, status: number, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ProxyError';
    this.code = code;
    this.flag = flag;
    this.status = status;
  }
}

export const noRoute = (host: string, path: string): ProxyError =>
  new ProxyError('no_route', 'NR', 404, `no route for ${host}${path}`);

export const noHealthyUpstream = (upstream: string): ProxyError =>
  new ProxyError('no_healthy_upstream', 'UH', 503, `no healthy endpoint in upstream ${upstream}`);

/**
 * The code of an error that made a TLS origination fail (proxy/tls-connect.ts): a connect failure,
 * since the request never reached the upstream; its message is the reason.
 */
export const TLS_FAILURE = 'UPSTREAM_TLS_FAILURE';

export function connectFailure(target: string, cause: unknown): ProxyError {
  const err = new ProxyError('upstream_connect_failure', 'UF', 503, `upstream connect error to ${target}: ${describe(cause)}`, cause);
  if ((cause as NodeJS.ErrnoException | undefined)?.code === TLS_FAILURE) err.transportFailure = (cause as Error).message;
  return err;
}

export const upstreamTimeout = (target: string, ms: number): ProxyError =>
  new ProxyError('upstream_timeout', 'UT', 504, `upstream ${target} did not answer within ${ms}ms`);

export const upstreamReset = (target: string, cause: unknown): ProxyError =>
  new ProxyError('upstream_reset', 'UC', 503, `upstream ${target} reset the connection before responding: ${describe(cause)}`, cause);

export const downstreamDisconnect = (): ProxyError =>
  new ProxyError('downstream_disconnect', 'DC', 499, 'client disconnected');

/**
 * The route's rate limit refused the request (SPEC §5): 429 `RL` with `headers` (retry-after and the
 * RateLimit fields). A gRPC request gets `RESOURCE_EXHAUSTED` (8) from the same error once the
 * HTTP/2 edge maps flags to gRPC statuses (SPEC §11). Built without a stack trace: under a flood
 * this is the common answer, and its stack would say nothing (it is always the rate-limit layer).
 */
export function rateLimited(route: string, headers: Readonly<Record<string, string>>): ProxyError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const err = new ProxyError('rate_limited', 'RL', 429, `rate limit of route ${route} exceeded`);
  Error.stackTraceLimit = limit;
  err.headers = headers;
  return err;
}

export const overloaded = (percent: number): ProxyError =>
  new ProxyError('overloaded', 'OM', 503, `overloaded: memory in use at ${Math.round(percent)}% of the limit; new requests are shed until it falls`);
/**
 * The inbound authorization refused the request (SPEC §12): 403 `AD`, the body naming the rule that
 * decided (`policy`: a deny rule's name, or null when no allow rule matched). A gRPC request gets
 * `PERMISSION_DENIED` (7) from the same error once the HTTP/2 edge maps flags (SPEC §11).
 */
export function accessDenied(policy: string | null, message: string): ProxyError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const err = new ProxyError('access_denied', 'AD', 403, message);
  Error.stackTraceLimit = limit;
  err.body = { policy };
  return err;
}

export const badRequest = (message: string): ProxyError =>
  new ProxyError('bad_request', 'NR', 400, message);

function describe(cause: unknown): string {
  const e = cause as NodeJS.ErrnoException | undefined;
  if (e?.code === TLS_FAILURE) return e.message;
  return e?.code ?? e?.message ?? String(cause);
}

/** Errors Node reports when the TCP connection could not be made: the request never left. */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ECONNECT_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

export function isConnectError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  return CONNECT_ERRORS.has(code) || code === TLS_FAILURE;
}
