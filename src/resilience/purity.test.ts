/**
 * Guards the folder's contract: the state machines are pure. They may import Node built-ins, each
 * other, the three wrapped libraries, and *types* from config and core — nothing from the proxy,
 * the pipeline, telemetry or the sidecar, and no prom-client.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('.', import.meta.url));
const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
const IMPORT = /^import\s+(type\s+)?[^'"]*from\s+'([^']+)'|require\('([^']+)'\)/gm;
const LIBRARIES = new Set(['opossum', 'cockatiel', 'node-cache']);

describe('src/resilience purity', () => {
  it.each(sources)('%s imports only what a pure module may', (file) => {
    const text = readFileSync(dir + file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const typeOnly = m[1] !== undefined;
      const spec = m[2] ?? m[3]!;
      const ok = spec.startsWith('node:') || spec.startsWith('./') || LIBRARIES.has(spec)
        || (typeOnly && /^\.\.\/(config|core)\//.test(spec));
      expect(ok, `${file} imports ${typeOnly ? 'type ' : ''}${spec}`).toBe(true);
    }
  });

  it('only opossum.ts touches opossum, only backoff.ts cockatiel, only runtime-faults.ts node-cache', () => {
    const owners: Record<string, string> = { opossum: 'opossum.ts', cockatiel: 'backoff.ts', 'node-cache': 'runtime-faults.ts' };
    for (const file of sources) {
      const text = readFileSync(dir + file, 'utf8');
      for (const [lib, owner] of Object.entries(owners)) {
        if (file !== owner) expect(text.includes(`'${lib}'`), `${file} uses ${lib}`).toBe(false);
      }
    }
  });
});
