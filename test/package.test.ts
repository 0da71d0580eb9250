/**
 * What `npm pack` would publish: the built code and its type declarations (the library's public
 * face, SPEC §10), and nothing from the tests, the sources or the benchmarks.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/sidecar.js';

describe('the package', () => {
  it('packs dist/ with its .d.ts and nothing from tests', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
    const files = (JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    for (const f of ['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/mesh/create-mesh.js', 'dist/mesh/create-mesh.d.ts', 'dist/cli/main.js']) expect(files).toContain(f);
    const stray = files.filter((f) => /^(test|src|bench|examples|chaos|deploy|node_modules)\//.test(f) || /\.test\.|\.map$/.test(f));
    expect(stray).toEqual([]);
  });
});
