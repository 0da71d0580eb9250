/**
 * The authorization core is pure (STYLE.md): it imports its own files and `node:net` (for
 * `BlockList`, the CIDR matcher), nothing from the proxy, config loading or telemetry, no library.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('.', import.meta.url));
const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
const IMPORT = /^(?:import|export)\s+(?:type\s+)?[^'"]*from\s+'([^']+)'/gm;

describe('src/authz purity', () => {
  it.each(sources)('%s imports only its folder and node:net', (file) => {
    for (const m of readFileSync(dir + file, 'utf8').matchAll(IMPORT)) {
      expect(m[1]!.startsWith('./') || m[1] === 'node:net', `${file} imports ${m[1]}`).toBe(true);
    }
  });
});
