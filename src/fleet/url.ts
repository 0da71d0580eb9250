/**
 * Fleet URLs: `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS). Parsing and
 * redaction live apart from the client so the CLI and the injector can check a URL without loading
 * ioredis.
 */

/** A malformed fleet URL; the message never contains its credentials. */
export class FleetUrlError extends Error {
  override readonly name = 'FleetUrlError';
}

export function parseFleetUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FleetUrlError(`not a URL: ${redactText(url)} (expected redis://[user:password@]host[:port][/db] or rediss://…)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new FleetUrlError(`unsupported scheme ${u.protocol} in ${redactUrl(u)} (expected redis:// or rediss://)`);
  if (!u.hostname) throw new FleetUrlError(`no host in ${redactUrl(u)}`);
  if (u.pathname.length > 1 && !/^\/\d+$/.test(u.pathname)) throw new FleetUrlError(`the path of ${redactUrl(u)} must be a database number`);
  return u;
}

/** The URL without its user and password: what logs, /config_dump and `fleet status` show. */
export function redactUrl(u: URL): string {
  const c = new URL(u.href);
  c.username = '';
  c.password = '';
  return c.href.replace(/\/$/, '');
}

export function hasCredentials(u: URL): boolean {
  return u.username !== '' || u.password !== '';
}

/** Best effort for text that is not even a URL: drop anything between `//` and `@`. */
function redactText(text: string): string {
  return text.replace(/\/\/[^/@]*@/, '//').replace(/^[^/@:]*:[^/@]*@/, '');
}
