// The `pilotfish` command as a bundle: `npm run build` compiles src/ with tsc (dist/, with the
// library's .d.ts), then this bundles the CLI from src/ (rolldown strips the types itself, so a
// rebuild never reads its own output) into dist/cli/main.js, replacing tsc's, and its chunks in
// dist/bundle/. Why: `pilotfish run` used to resolve and evaluate ~440 files (zod's
// 95 with every locale, yaml's 72, undici's), and that, not compiling them, was most of its start
// (docs/benchmarks.md, "Start-up"). One file per lazily imported part keeps tracing, chaos, kube,
// fleet and the other engines unloaded until used.
//
// Chunks sit one level under dist/ as every compiled file does, so `new URL('../…', import.meta.url)`
// in them means what it means in the file it came from. The packages a sidecar loads at start are
// bundled (tree-shaken: zod without its locales); the ones only a lazily loaded part uses stay
// external, resolved from node_modules as before. opossum and prom-client are `createRequire`d by
// the code and stay external too: one copy of each, whichever part loads it.
import { rmSync } from 'node:fs';
import { constants as H2_CONSTANTS } from 'node:http2';

/** undici in a chunk of its own, `bundle/undici-lib-*.js`: loaded by the undici engine only (test/footprint.test.ts). */
const undiciChunk = (id) => (/[\\/]node_modules[\\/]undici[\\/]/.test(id) ? 'undici-lib' : null);

const EXTERNAL = /^(@opentelemetry\/|ioredis|http-proxy-3|@peculiar\/|reflect-metadata|prom-client|opossum)/;

/**
 * node:util, node:tls and node:crypto taken with `process.getBuiltinModule`, not ES-imported. An ES
 * import of a built-in builds its module namespace by reading every export, and these three have
 * lazy getters that load more of Node: node:util's load the assertion differ and worker_threads,
 * node:crypto's `webcrypto` loads WebCrypto, node:tls's `rootCertificates` reads the CA store — on
 * the startup path, for nothing `pilotfish run` uses (test/footprint.test.ts). Each
 * `import … from"node:util"` (tls, crypto) in the rendered chunks becomes
 * `const … = process.getBuiltinModule("node:util")`, which reads only the names imported: idle RSS
 * -1.7 MiB, instructions to ready unchanged (docs/benchmarks.md, "Footprint"). Only these three:
 * doing the same for every built-in (fs, net, stream, …) loaded five fewer modules but cost ~14% more
 * instructions to ready under callgrind, for a reason not found. (src/core/node-http.ts does this by
 * hand for node:http, for the tsc-compiled library too.)
 */
const BUILTIN_IMPORT = /import(?:\s*([\w$]+)\s*,?)?(?:\s*\*\s*as\s+([\w$]+))?(?:\s*\{([^}]*)\})?\s*from\s*"(node:(?:util|tls|crypto))";/g;
const builtinsByGetter = {
  name: 'builtins-by-getter',
  renderChunk(code, _chunk, _options, meta) {
    const s = meta.magicString;
    for (const m of code.matchAll(BUILTIN_IMPORT)) {
      const [whole, def, ns, named, id] = m;
      const mod = `process.getBuiltinModule(${JSON.stringify(id)})`;
      const decls = [def ?? ns ? `${def ?? ns}=${mod}` : ''];
      if (named !== undefined) decls.push(`{${named.split(',').map((n) => n.trim()).filter(Boolean).map((n) => n.replace(/\s+as\s+/, ':')).join(',')}}=${def ?? ns ?? mod}`);
      s.overwrite(m.index, m.index + whole.length, `const ${decls.filter(Boolean).join(',')};`);
    }
    return { code: s };
  },
};

/**
 * undici's HTTP/2 client (`lib/dispatcher/client-h2.js`, which its `Client` requires at load)
 * requires node:http2 when it is evaluated, only to read ten of its constants and, for a session,
 * `http2.connect`; and node:http2 loads node:tls, which starts Node's CA-store thread: ~85 M
 * instructions and 8.6 MiB of RSS at start (docs/benchmarks.md, "Start-up") for a sidecar that
 * may never speak HTTP/2 or TLS to anything (undici's `allowH2` is off here; our HTTP/2 upstreams go
 * through http2-pool.ts, our TLS through src/core/lazy-builtins.ts). So in the bundle the
 * constants are written in as the values node:http2 has here (RFC 9113's header names and error
 * codes), and `http2.connect` loads node:http2 on its first call. The build fails if undici's code
 * no longer has that shape; test/footprint.test.ts checks that a sidecar loads neither module.
 */
const UNDICI_H2 = /[\\/]node_modules[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client-h2\.js$/;
const UNDICI_H2_LOAD = /let http2\s+try \{\s+http2 = require\('node:http2'\)\s+\} catch \{[\s\S]*?\n\}\s+const \{\s+constants: \{([\w\s,]+)\}\s+\} = http2\n/;
const undiciLazyHttp2 = {
  name: 'undici-lazy-http2',
  transform(code, id) {
    if (!UNDICI_H2.test(id)) return null;
    const m = UNDICI_H2_LOAD.exec(code);
    if (m === null) this.error(`${id}: undici no longer loads node:http2 as rolldown.config.mjs expects; update undiciLazyHttp2`);
    const uses = code.slice(m.index + m[0].length).match(/\bhttp2\.\w+/g) ?? [];
    if (uses.some((u) => u !== 'http2.connect')) this.error(`${id}: undici uses ${[...new Set(uses)].join(', ')} of node:http2; undiciLazyHttp2 makes only http2.connect lazy`);
    const names = m[1].split(',').map((n) => n.trim()).filter(Boolean);
    const consts = names.map((n) => {
      if (!(n in H2_CONSTANTS)) this.error(`${id}: http2.constants.${n} is not in this Node's node:http2`);
      return `${n} = ${JSON.stringify(H2_CONSTANTS[n])}`;
    });
    // As many lines as it replaces, so the lines after it keep their numbers (and the source map, `map: null`, holds).
    const lazy = `const http2 = { connect: (...args) => require('node:http2').connect(...args) }; const ${consts.join(', ')}`;
    const pad = '\n'.repeat(m[0].split('\n').length - 1);
    return { code: code.slice(0, m.index) + lazy + pad + code.slice(m.index + m[0].length), map: null };
  },
};

/**
 * undici's HTTP/1 parsers as WebAssembly, base64 in JS modules (llhttp with and without SIMD, and the
 * experimental milo's two builds: ~310 kB of undici's 546 kB chunk): undici requires one of them on
 * its first HTTP/1 connection, but bundled, every one is parsed with the chunk at start and its
 * source held in memory for the life of the process. Left external, they are read from
 * node_modules/undici (a runtime dependency) only when undici asks for one.
 */
const UNDICI_WASM = /^\.\.\/(llhttp\/llhttp(?:_simd)?-wasm|milo\/(?:no-)?simd)\.js$/;
const undiciWasmExternal = {
  name: 'undici-wasm-external',
  resolveId(source, importer) {
    const m = UNDICI_WASM.exec(source);
    if (m === null || importer === undefined || !/[\\/]node_modules[\\/]undici[\\/]lib[\\/]dispatcher[\\/]/.test(importer)) return null;
    return { id: `undici/lib/${m[1]}.js`, external: true };
  },
};

rmSync(new URL('./dist/bundle', import.meta.url), { recursive: true, force: true });

export default {
  input: { 'cli/main': 'src/cli/main.ts' },
  platform: 'node',
  plugins: [undiciLazyHttp2, undiciWasmExternal, builtinsByGetter],
  experimental: { nativeMagicString: true },
  external: (id) => id.startsWith('node:') || EXTERNAL.test(id),
  output: {
    dir: 'dist', format: 'esm', entryFileNames: '[name].js', chunkFileNames: 'bundle/[name]-[hash].js',
    codeSplitting: { groups: [{ name: undiciChunk }] },
    // Whitespace and comments out, names kept (no mangling, no rewriting): V8 keeps every loaded
    // script's source in memory, and this is 1.6 MiB less RSS at idle (2.0 → 1.5 MB of chunks);
    // stack traces still name the functions, and the source maps (`node --enable-source-maps`)
    // point into src/. npm pack leaves the maps out.
    comments: false,
    minify: { compress: false, mangle: false, codegen: { removeWhitespace: true } },
    sourcemap: true,
  },
};
