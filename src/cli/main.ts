#!/usr/bin/env node
/**
 * The `pilotfish` entry point. It imports nothing but the V8-flag check before it decides whether
 * `pilotfish run` must re-execute itself (`v8-flags.ts`): a re-execution throws away everything this
 * process loaded, so the commands (and everything they import) load only after it, in the process
 * that runs them.
 */
import { reexecWithV8Flags } from './v8-flags.js';

if (process.argv[2] === 'run') reexecWithV8Flags();
(await import('./commands.js')).cli(process.argv.slice(2));
