/**
 * Extracting the sticky key of a request (SPEC §4 `sticky`): a header's value, a cookie's value, or
 * the client's address. With `cookie`, a request without the cookie gets a fresh random session id
 * as its key and a `Set-Cookie` value for the response, so its next requests carry the same key.
 */
import type { RoutePolicy } from '../config/index.js';

export type StickyPolicy = NonNullable<RoutePolicy['sticky']>;

export interface StickyRequest {
  /** Request headers with lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The downstream peer's address (`socket.remoteAddress`). */
  readonly sourceIp?: string | undefined;
}

export interface StickyKey {
  readonly key: string;
  /** Cookie mode, new session: the value of a `Set-Cookie` header to add to the response. */
  readonly setCookie?: string;
}

export interface StickyKeyOptions {
  /** Makes new session ids; default `crypto.randomUUID()` (122 random bits: not guessable). */
  readonly newSessionId?: () => string;
}

/**
 * Cookie values longer than this (characters) are treated as absent and replaced: they are hashed
 * and stored as affinity keys, and a session id we issue is 36 characters.
 */
export const MAX_COOKIE_KEY_LENGTH = 256;

/** Compiles a route's `sticky` policy into a key extractor; undefined from it means "no key". */
export function compileStickyKey(policy: StickyPolicy, options: StickyKeyOptions = {}): (req: StickyRequest) => StickyKey | undefined {
  if ('header' in policy) {
    const name = policy.header.toLowerCase();
    return (req) => { const key = headerValue(req.headers, name); return key ? { key } : undefined; };
  }
  if ('sourceIp' in policy) {
    return (req) => (req.sourceIp ? { key: normaliseIp(req.sourceIp) } : undefined);
  }
  const { name, ttl } = policy.cookie;
  const newId = options.newSessionId ?? (() => globalThis.crypto.randomUUID());
  return (req) => {
    const existing = readCookie(req.headers['cookie'], name);
    if (existing !== undefined && existing.length > 0 && existing.length <= MAX_COOKIE_KEY_LENGTH) return { key: existing };
    const key = newId();
    return { key, setCookie: sessionCookie(name, key, ttl) };
  };
}

/** A header's value, repeated headers joined by ","; undefined when absent or empty. */
export function headerValue(headers: StickyRequest['headers'], lowerName: string): string | undefined {
  const v = headers[lowerName];
  const s = Array.isArray(v) ? v.join(',') : v;
  return s === '' ? undefined : s;
}

/**
 * The value of cookie `name` in a `Cookie` header (RFC 6265 `name=value; name2=value2`; Node joins
 * repeated Cookie headers with "; "). The first occurrence wins; surrounding quotes are removed.
 */
export function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const s = Array.isArray(header) ? header.join('; ') : header;
  let start = 0;
  while (start < s.length) {
    let end = s.indexOf(';', start);
    if (end < 0) end = s.length;
    const eq = s.indexOf('=', start);
    if (eq > 0 && eq < end && s.slice(start, eq).trim() === name) {
      let value = s.slice(eq + 1, end).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return value;
    }
    start = end + 1;
  }
  return undefined;
}

/** A `Set-Cookie` value for a session: lives `ttlMs` (Max-Age in whole seconds), whole site, not scriptable. */
export function sessionCookie(name: string, value: string, ttlMs: number): string {
  return `${name}=${value}; Max-Age=${Math.max(1, Math.floor(ttlMs / 1000))}; Path=/; HttpOnly; SameSite=Lax`;
}

/** `::ffff:10.0.0.1` (IPv4 on a dual-stack socket) → `10.0.0.1`, so both spellings are one client. */
export function normaliseIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip.toLowerCase();
}
