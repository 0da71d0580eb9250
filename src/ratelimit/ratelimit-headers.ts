/**
 * The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers, the -10 text and later):
 * `RateLimit-Policy: "name";q=100;w=1` (the quota q per window w seconds) and
 * `RateLimit: "name";r=0;t=1` (remaining quota, seconds until more is available), each a
 * Structured Field list whose items name the policy as an sf-string (drafts from -11 on accept a
 * token or a string; a string satisfies both). The burst — a token bucket's extra parameter — goes
 * in a vendor-prefixed parameter, as the draft asks: `pilotfish-burst=20`. `Retry-After` carries the
 * same seconds as `t` (the draft: Retry-After must not point earlier than the reset).
 */
import type { Rate } from './gcra.js';

/** `"name"` as an sf-string: printable ASCII, `"` and `\` escaped, anything else replaced. */
export function sfString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else out += c >= 0x20 && c <= 0x7e ? ch : '?';
  }
  return `${out}"`;
}

/**
 * `RateLimit-Policy` for a rate: the window in whole seconds (the field has no finer unit), the
 * quota scaled to it — 10 per 100 ms reads `q=100;w=1`, 3 per 1.5 s reads `q=4;w=2` (rounded down).
 */
export function policyField(name: string, r: Rate): string {
  const w = Math.max(1, Math.round(r.per / 1000));
  const q = Math.max(1, Math.floor((r.requests * w * 1000) / r.per + 1e-9));
  return `${sfString(name)};q=${q};w=${w};pilotfish-burst=${r.burst}`;
}

/** Whole seconds (≥ 1) until a request would pass, for `t` and `Retry-After`. */
export function retrySeconds(waitMs: number): number {
  return Math.max(1, Math.ceil(waitMs / 1000));
}

/** The headers of a 429: `retry-after`, `ratelimit-policy` (precompiled) and `ratelimit`. */
export function limitedHeaders(quotedName: string, policy: string, waitMs: number): Record<string, string> {
  const t = String(retrySeconds(waitMs));
  return { 'retry-after': t, 'ratelimit-policy': policy, ratelimit: `${quotedName};r=0;t=${t}` };
}
