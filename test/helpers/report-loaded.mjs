// Preloaded into a `pilotfish run` under test (node --import): when the process exits it writes one
// JSON log line naming the Node built-ins and the files it loaded — CommonJS files from require's
// cache, ES modules (the CLI's bundle chunks among them) as the module loader reports them — so a
// test can check that the sidecar loads only what its policy and engine use.
import { createRequire, registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const esm = new Set();
registerHooks({
  load(url, context, nextLoad) {
    if (url.startsWith('file:')) esm.add(fileURLToPath(url));
    return nextLoad(url, context);
  },
});
process.on('exit', () => {
  const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
  const files = [...new Set([...Object.keys(require.cache), ...esm])];
  process.stderr.write(`${JSON.stringify({ msg: 'loaded modules', builtins, files })}\n`);
});
