/** The rate-limit core is pure (STYLE.md): its own files and the routing hash, no library, no I/O. */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('.', import.meta.url));
const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
const IMPORT = /^(?:import|export)\s+(?:type\s+)?[^'"]*from\s+'([^']+)'/gm;

describe('src/ratelimit purity', () => {
  it.each(sources)('%s imports only its folder and ../routing/hash.js', (file) => {
    for (const m of readFileSync(dir + file, 'utf8').matchAll(IMPORT)) {
      expect(m[1]!.startsWith('./') || m[1] === '../routing/hash.js', `${file} imports ${m[1]}`).toBe(true);
    }
  });
});
