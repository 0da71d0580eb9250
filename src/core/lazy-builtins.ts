/**
 * node:http2 and node:tls, loaded on first use instead of at start. node:http2 requires node:tls
 * when it loads, and loading node:tls starts Node's CA-store thread (it parses the bundled root
 * certificates, and `NODE_EXTRA_CA_CERTS`'s): in a bare process ~85 M instructions and 8.6 MiB of
 * RSS (docs/benchmarks.md, "Start-up"), which a sidecar with a plain HTTP/1 policy and no TLS never
 * needs. So no module of ours imports them at its top: each takes them from here where it first
 * needs them (the first h2c connection, HTTP/2 upstream session or TLS use), and type-only imports
 * are erased. `process.getBuiltinModule` is synchronous, and after the first load returns the module
 * Node keeps; the bundle (rolldown.config.mjs) leaves the call as it is, so it hoists nothing
 * (test/footprint.test.ts reads a real sidecar's `process.moduleLoadList`).
 */
import type * as Http2 from 'node:http2';
import type * as Tls from 'node:tls';

/** node:http2 (and with it node:tls), loaded by the first call. */
export const http2 = (): typeof Http2 => process.getBuiltinModule('node:http2');
/** node:tls, loaded by the first call. */
export const tls = (): typeof Tls => process.getBuiltinModule('node:tls');

/**
 * The few `http2.constants` we use, as numbers, so that reading one loads nothing: RST_STREAM error
 * codes (RFC 9113 §7) and the END_STREAM frame flag (§6.1). `lazy-builtins.test.ts` checks them
 * against node:http2's.
 */
export const H2 = {
  INTERNAL_ERROR: 0x2,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  FLAG_END_STREAM: 0x1,
} as const;
