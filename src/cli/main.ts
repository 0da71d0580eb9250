#!/usr/bin/env node
/**
 * The `pilotfish` entry point. It imports nothing but the V8-flag check before it decides whether
 * `pilotfish run` must re-execute itself (`v8-flags.ts`): a re-execution throws away everything this
 * process loaded, so the commands (and everything they import) load only after it, in the process
 * that runs them.
 *
 * Then Node's compile cache: V8's code cache of every module loaded after this line (the bundle's
 * chunks, the `createRequire`d opossum and prom-client), read from `NODE_COMPILE_CACHE` or
 * `os.tmpdir()/node-compile-cache` (`NODE_DISABLE_COMPILE_CACHE=1` turns it off) and written there
 * when the process exits cleanly — a killed process writes nothing. A warm cache takes a start to
 * ready from ~730 to ~620 M instructions; a missing, stale or unwritable one costs nothing but the
 * compile it would have saved (docs/benchmarks.md, "Start-up"). The image warms one at build time.
 */
import { enableCompileCache } from 'node:module';
import { reexecWithV8Flags } from './v8-flags.js';

if (process.argv[2] === 'run') reexecWithV8Flags();
enableCompileCache();
(await import('./commands.js')).cli(process.argv.slice(2));
