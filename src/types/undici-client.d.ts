/**
 * undici's `Client` (one connection, HTTP/1.1) by its own module path: importing it alone leaves the
 * rest of undici (fetch, WebSocket, cache, the mock and proxy agents) unloaded — about 12 MB of RSS
 * less than `import 'undici'` (measured on Node 24.21, undici 8.13). undici publishes no `exports`
 * map, so the path is reachable; the class is the one `undici` exports.
 */
declare module 'undici/lib/dispatcher/client.js' {
  import type { Client } from 'undici';
  const ClientClass: typeof Client;
  export default ClientClass;
}

/** undici's own helpers, loaded with its `Client`; the engine calls the one it would run per request. */
declare module 'undici/lib/core/util.js' {
  /** The TLS server name undici derives from a Host: the host name, '' for an IP address, null for none. */
  export function getServerName(host: string | null): string | null;
}

/** undici's constants; the engine adds the sidecar's own request header names to its table of known ones. */
declare module 'undici/lib/core/constants.js' {
  /** Known header names (as written and lower-case) → lower-case; a null-prototype object. */
  export const headerNameLowerCasedRecord: Record<string, string>;
  const constants: { headerNameLowerCasedRecord: Record<string, string> };
  export default constants;
}

/** undici's symbols; `kConnect` keys `Client`'s explicit connect (no request needed), for cluster warming. */
declare module 'undici/lib/core/symbols.js' {
  const symbols: { readonly kConnect: symbol };
  export default symbols;
}
