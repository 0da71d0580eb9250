/**
 * Splits an authority for the `server.address` / `server.port` span attributes. Not `new URL()`: it
 * allocates a whole URL per span and rejects some authorities a proxy still has to report.
 */

/** `host:port`, `[v6]:port`, a bare host or a bare IPv6 address → [address, port or undefined]. */
export function splitHostPort(authority: string): [string, number | undefined] {
  const close = authority.startsWith('[') ? authority.indexOf(']') : -1;
  const colon = authority.lastIndexOf(':');
  // No port: no colon, a colon inside the brackets, or several colons without brackets (bare IPv6).
  if (colon < 0 || colon < close || (close < 0 && authority.indexOf(':') !== colon)) {
    return [close > 0 ? authority.slice(1, close) : authority, undefined];
  }
  const port = Number(authority.slice(colon + 1));
  const host = close > 0 ? authority.slice(1, close) : authority.slice(0, colon);
  return [host, Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined];
}
