// Preloaded into a `pilotfish run` under test (node --import): when the process exits it writes one
// JSON log line naming the Node built-ins and the CommonJS files it loaded, so a test can check that
// the sidecar loads only what its policy and engine use. (ES modules leave no such trace; every
// package whose absence matters here is CommonJS.)
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
process.on('exit', () => {
  const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
  process.stderr.write(`${JSON.stringify({ msg: 'loaded modules', builtins, files: Object.keys(require.cache) })}\n`);
});
