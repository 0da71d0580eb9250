/**
 * The access log's line, encoded straight into bytes: each field goes into the batch buffer as it is
 * read, ASCII byte by byte, so a line builds no string at all. The template string it replaced cost,
 * per request, ~45 string concatenations (V8's `StringAdd`, a rope node each), the flattening of that
 * rope when it was encoded (`WriteToFlat`), a Latin-1 → UTF-8 pass, and one regular expression per
 * peer-controlled field — ~10 k instructions under callgrind; the scan that checks a field for
 * characters JSON must escape is the loop that copies it.
 *
 * The bytes are exactly the UTF-8 of the line the template made (access-line.test.ts holds that
 * template and compares): a field needing escapes — a quote, a backslash, a control or non-ASCII
 * character — falls back to `JSON.stringify` for that field, non-ASCII in a field written as it is
 * to UTF-8 for that field, and a number that is not a small non-negative integer to `String(n)`.
 */
import type { RequestDone } from '../core/observer.js';
import type { AccessContext } from './access-log.js';

/**
 * Bytes the line can take at most: the constant text and numbers, plus 6 per UTF-16 unit of a string
 * field (`\u001f` is the longest escape; UTF-8 takes at most 3 bytes per unit).
 */
export function lineBound(ctx: AccessContext, d: RequestDone, traceId: string): number {
  let flags = 0;
  for (const f of ctx.flags) flags += f.length + 1;
  return LINE_FIXED + 6 * (d.method.length + d.host.length + d.path.length + ctx.direction.length + flags + ctx.route.length
    + ctx.upstream.length + ctx.subset.length + ctx.endpoint.length + traceId.length + ctx.requestId.length + ctx.peer.length
    + ctx.transportFailure.length + (d.protocol?.length ?? 0) + secondPrefix.length);
}
/** The constant text (~330 bytes with the optional keys) and eight numbers of up to 25 characters. */
const LINE_FIXED = 400 + 8 * 25;

/**
 * Writes the line for one finished request at `p` in `buf` (which has `lineBound` bytes free there)
 * and returns the offset after it. `path` goes without its query string (access-log.ts says why).
 */
export function encodeLine(buf: Buffer, p: number, ctx: AccessContext, d: RequestDone, traceId: string): number {
  p = ascii(buf, p, '{"log":"access","time":"');
  p = isoNow(buf, p);
  p = ascii(buf, p, '","direction":"');
  p = raw(buf, p, ctx.direction);
  p = ascii(buf, p, '","method":');
  p = quoted(buf, p, d.method);
  p = ascii(buf, p, ',"host":');
  p = quoted(buf, p, d.host);
  p = ascii(buf, p, ',"path":');
  const q = d.path.indexOf('?');
  p = quoted(buf, p, q < 0 ? d.path : d.path.slice(0, q));
  p = ascii(buf, p, ',"status":');
  p = int(buf, p, d.status);
  p = ascii(buf, p, ',"flags":"');
  const flags = ctx.flags;
  for (let i = 0; i < flags.length; i++) {
    if (i > 0) buf[p++] = 0x2c; // ,
    p = raw(buf, p, flags[i]!);
  }
  p = ascii(buf, p, '","route":');
  p = quoted(buf, p, ctx.route);
  p = ascii(buf, p, ',"upstream":');
  p = quoted(buf, p, ctx.upstream);
  p = ascii(buf, p, ',"subset":');
  p = quoted(buf, p, ctx.subset);
  p = ascii(buf, p, ',"endpoint":');
  p = quoted(buf, p, ctx.endpoint);
  p = ascii(buf, p, ',"attempts":');
  p = int(buf, p, ctx.attempts);
  p = ascii(buf, p, ',"duration":');
  p = millis(buf, p, d.durationMs);
  p = ascii(buf, p, ',"bytesIn":');
  p = int(buf, p, d.bytesIn);
  p = ascii(buf, p, ',"bytesOut":');
  p = int(buf, p, d.bytesOut);
  p = ascii(buf, p, ',"traceId":"');
  p = raw(buf, p, traceId);
  p = ascii(buf, p, '","generation":');
  p = int(buf, p, ctx.generation);
  p = ascii(buf, p, ',"requestId":');
  p = quoted(buf, p, ctx.requestId);
  p = ascii(buf, p, ',"peer":');
  p = quoted(buf, p, ctx.peer);
  if (ctx.transportFailure !== '') {
    p = ascii(buf, p, ',"upstreamTransportFailure":');
    p = quoted(buf, p, ctx.transportFailure);
  }
  p = ascii(buf, p, ',"protocol":"');
  p = raw(buf, p, d.protocol ?? 'HTTP/1.1');
  buf[p++] = 0x22; // "
  if (d.grpcStatus !== undefined) {
    p = ascii(buf, p, ',"grpcStatus":');
    p = int(buf, p, d.grpcStatus);
  }
  buf[p++] = 0x7d; // }
  buf[p++] = 0x0a; // \n
  return p;
}

/** Text known to be ASCII (this file's constants). */
function ascii(buf: Buffer, p: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[p++] = s.charCodeAt(i);
  return p;
}

/** A field the sidecar makes, written as it is (as the template interpolated it): ASCII, else UTF-8. */
function raw(buf: Buffer, p: number, s: string): number {
  const start = p;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return start + buf.write(s, start);
    buf[p++] = c;
  }
  return p;
}

/**
 * A JSON string literal. Printable ASCII without quote or backslash (the common case) is copied as
 * it is scanned; anything else is `JSON.stringify`'s, as UTF-8.
 */
function quoted(buf: Buffer, p: number, s: string): number {
  const start = p;
  buf[p++] = 0x22;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return start + buf.write(JSON.stringify(s), start);
    buf[p++] = c;
  }
  buf[p++] = 0x22;
  return p;
}

/** `${n}`: a small non-negative integer digit by digit, anything else by `String`. */
function int(buf: Buffer, p: number, n: number): number {
  if (n >>> 0 !== n) return raw(buf, p, String(n));
  let digits = 1;
  for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
  let end = p + digits;
  for (let m = n; end > p; m = Math.floor(m / 10)) buf[--end] = 0x30 + (m % 10);
  return p + digits;
}

/** `n` as exactly three digits, 0 ≤ n < 1000. */
function three(buf: Buffer, p: number, n: number): number {
  buf[p] = 0x30 + Math.floor(n / 100);
  buf[p + 1] = 0x30 + (Math.floor(n / 10) % 10);
  buf[p + 2] = 0x30 + (n % 10);
  return p + 3;
}

/**
 * Milliseconds with three decimals (`12.346`, `5.000`) from integers: a fractional double's shortest
 * decimal form (what `${12.346}` computes) was the costliest part of the line in the bench profile.
 */
function millis(buf: Buffer, p: number, ms: number): number {
  const us = Math.round(ms * 1000);
  if (!(us >= 0 && us <= 0xffffffff)) return raw(buf, p, millisText(us));
  p = int(buf, p, Math.floor(us / 1000));
  buf[p++] = 0x2e; // .
  return three(buf, p, us % 1000);
}
/** The same for any value, as the template wrote it: `${Math.floor(us / 1000)}.${THOUSANDTHS[us % 1000]}`. */
function millisText(us: number): string {
  const frac = us % 1000;
  return `${Math.floor(us / 1000)}.${frac >= 0 && Number.isInteger(frac) ? String(frac).padStart(3, '0') : 'undefined'}`;
}

let lastSecond = -1;
let secondPrefix = '';
/** `new Date().toISOString()`: the date and time formatted once per second, then the milliseconds. */
function isoNow(buf: Buffer, p: number): number {
  const ms = Date.now();
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    secondPrefix = new Date(second * 1000).toISOString().slice(0, 20); // 2026-11-23T11:47:24.
  }
  p = ascii(buf, p, secondPrefix);
  p = three(buf, p, ms - second * 1000);
  buf[p++] = 0x5a; // Z
  return p;
}
