/**
 * The runtime import graph of the TypeScript sources, read statically: which files an entry point
 * loads and which packages it needs at run time (type-only imports are erased by the compiler and
 * left out). Used to check that each image carries everything its entry point imports.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const IMPORT = /(?:^|\n)[ \t]*(?:import|export)[ \t]+(type[ \t]+)?(?:([^;'"]*?)[ \t\n]from[ \t]+)?['"]([^'"\n]+)['"]/g;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** True for `{ type A, type B }`: every named import is a type, so the statement is erased. */
function typesOnly(clause: string | undefined): boolean {
  if (clause === undefined) return false;
  const m = /^\{([\s\S]*)\}$/.exec(clause.trim());
  if (!m) return false;
  const names = m[1]!.split(',').map((s) => s.trim()).filter(Boolean);
  return names.length > 0 && names.every((n) => n.startsWith('type '));
}

export interface Graph {
  /** Source files reached, absolute. */
  readonly files: ReadonlySet<string>;
  /** Bare specifiers imported at run time (`yaml`, `node:fs`, `@scope/pkg/sub`). */
  readonly packages: ReadonlySet<string>;
}

export function importGraph(entry: string): Graph {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    const specifiers: string[] = [];
    for (const m of text.matchAll(IMPORT)) if (!m[1] && !typesOnly(m[2])) specifiers.push(m[3]!);
    for (const m of text.matchAll(DYNAMIC)) specifiers.push(m[1]!);
    for (const spec of specifiers) {
      if (!spec.startsWith('.')) { packages.add(spec); continue; }
      const resolved = path.resolve(path.dirname(file), spec);
      const ts = resolved.replace(/\.js$/, '.ts');
      if (existsSync(ts)) visit(ts);
      else if (existsSync(resolved)) visit(resolved);
      else throw new Error(`${file}: cannot resolve ${spec}`);
    }
  };
  visit(entry);
  return { files, packages };
}

/** `@scope/pkg/sub` → `@scope/pkg`, `pkg/sub` → `pkg`. */
export function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}
