/**
 * The locality core is pure (STYLE.md): it imports its own files and the routing hash, nothing
 * from the proxy, config loading, upstream state or telemetry, and no library.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('.', import.meta.url));
const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
const IMPORT = /^(?:import|export)\s+(?:type\s+)?[^'"]*from\s+'([^']+)'/gm;

describe('src/routing/locality purity', () => {
  it.each(sources)('%s imports only its folder and ../hash.js', (file) => {
    for (const m of readFileSync(dir + file, 'utf8').matchAll(IMPORT)) {
      expect(m[1]!.startsWith('./') || m[1] === '../hash.js', `${file} imports ${m[1]}`).toBe(true);
    }
  });
});
