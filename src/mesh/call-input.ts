/**
 * What an undici `dispatch(opts, handler)` asks for, as the request core reads it: the authority and
 * origin-form path from `origin` + `path` (+ `query`), the headers as Node's server would give them
 * (lower-case names, repeated values joined), and the body — whole (string, bytes) or streamed
 * (a Node `Readable`, a web `ReadableStream`, any iterable of chunks).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { ReadableStream } from 'node:stream/web';
import type { Dispatcher } from 'undici';

export interface CallInput {
  readonly scheme: 'http' | 'https';
  /** Authority, lower-cased, port kept when the URL names one. */
  readonly host: string;
  readonly path: string;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer | undefined;
  readonly stream: Readable | undefined;
}

/** Thrown for options no request can be made from; undici's own InvalidArgumentError has the same code. */
export class MeshArgumentError extends Error {
  readonly code = 'UND_ERR_INVALID_ARG';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidArgumentError';
  }
}

interface Origin { readonly scheme: 'http' | 'https'; readonly host: string }

/** Origins seen, parsed once: an application calls a handful of them over and over. */
const ORIGINS = new Map<string, Origin>();
const MAX_ORIGINS = 1024;
/** The last origin asked for: most calls repeat it, and a string compare beats hashing it again. */
let lastKey = '';
let last: Origin | undefined;

function parseOrigin(origin: string | URL): Origin {
  const key = typeof origin === 'string' ? origin : origin.origin;
  if (key === lastKey && last !== undefined) return last;
  const known = ORIGINS.get(key);
  if (known !== undefined) { lastKey = key; last = known; return known; }
  let url: URL;
  try {
    url = typeof origin === 'string' ? new URL(origin) : origin;
  } catch {
    throw new MeshArgumentError(`pilotfish mesh: invalid origin ${JSON.stringify(key)}`);
  }
  const scheme = url.protocol === 'http:' ? 'http' : url.protocol === 'https:' ? 'https' : undefined;
  if (scheme === undefined) throw new MeshArgumentError(`pilotfish mesh: unsupported protocol ${url.protocol}`);
  const parsed: Origin = { scheme, host: url.host.toLowerCase() };
  if (ORIGINS.size >= MAX_ORIGINS) ORIGINS.clear();
  ORIGINS.set(key, parsed);
  lastKey = key;
  last = parsed;
  return parsed;
}

export function callInput(opts: Dispatcher.DispatchOptions): CallInput {
  const origin = opts.origin;
  if (origin === undefined || origin === null) throw new MeshArgumentError('pilotfish mesh: a request needs an origin (an absolute http:// URL)');
  const { scheme, host } = parseOrigin(origin);
  if (typeof opts.path !== 'string' || (opts.path[0] !== '/' && opts.path !== '*')) throw new MeshArgumentError('pilotfish mesh: path must be an origin-form string starting with /');
  const headers = readHeaders(opts.headers);
  let path = opts.path;
  const query = (opts as { query?: Record<string, unknown> }).query;
  if (query) {
    const qs = new URLSearchParams(query as Record<string, string>).toString();
    if (qs) path += (path.includes('?') ? '&' : '?') + qs;
  }
  const { body, stream } = readBody(opts.body, headers);
  const method = opts.method ?? 'GET';
  return { scheme, host, path, method: method === 'GET' || method === 'POST' ? method : method.toUpperCase(), headers, body, stream };
}

/** Object, flat `[name, value, …]` array, or iterable of `[name, value]` pairs → Node's header object. */
function readHeaders(h: Dispatcher.DispatchOptions['headers']): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  if (h === undefined || h === null) return out;
  if (Array.isArray(h)) {
    if (h.length > 0 && Array.isArray(h[0])) for (const [k, v] of h as unknown as Array<[string, unknown]>) add(out, k, v);
    else for (let i = 0; i + 1 < h.length; i += 2) add(out, String(h[i]), h[i + 1]);
  } else if (typeof (h as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [k, v] of h as Iterable<[string, unknown]>) add(out, k, v);
  } else {
    for (const k of Object.keys(h)) add(out, k, (h as Record<string, unknown>)[k]);
  }
  return out;
}

function add(out: IncomingHttpHeaders, name: string, value: unknown): void {
  if (value === undefined || value === null) return;
  const key = name.toLowerCase();
  // The URL's authority routes the call (as Host does on the outbound port); the engine sets `host`.
  // (Skipped rather than deleted after: a `delete` would turn the object into a slow dictionary.)
  if (key === '__proto__' || key === 'host') return;
  const values = Array.isArray(value) ? value.map(String) : [String(value)];
  const prior = out[key];
  if (key === 'set-cookie') { out[key] = [...(prior ?? []), ...values]; return; }
  const joined = values.join(key === 'cookie' ? '; ' : ', ');
  (out as Record<string, string>)[key] = prior === undefined ? joined : `${prior as string}${key === 'cookie' ? '; ' : ', '}${joined}`;
}

/**
 * A whole body is kept as bytes (every retry can resend it) with its `content-length`; a streamed one
 * without a length is marked `transfer-encoding: chunked`, the framing an HTTP/1 client would send.
 */
const NO_BODY = Object.freeze({ body: undefined, stream: undefined });

function readBody(b: unknown, headers: IncomingHttpHeaders): { body: Buffer | undefined; stream: Readable | undefined } {
  if (b === undefined || b === null) return NO_BODY;
  let body: Buffer | undefined;
  if (typeof b === 'string') body = Buffer.from(b);
  else if (Buffer.isBuffer(b)) body = b;
  else if (b instanceof Uint8Array) body = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  else if (b instanceof ArrayBuffer) body = Buffer.from(b);
  if (body !== undefined) {
    headers['content-length'] = String(body.length);
    return { body, stream: undefined };
  }
  let stream: Readable;
  if (b instanceof Readable) stream = b;
  else if (b instanceof ReadableStream) stream = Readable.fromWeb(b);
  else if (typeof (b as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' || typeof (b as Iterable<unknown>)[Symbol.iterator] === 'function') {
    stream = Readable.from(b as AsyncIterable<Uint8Array>, { objectMode: false });
  } else {
    throw new MeshArgumentError('pilotfish mesh: body must be a string, bytes, a stream or an iterable of chunks');
  }
  if (headers['content-length'] === undefined) headers['transfer-encoding'] = 'chunked';
  return { body: undefined, stream };
}
