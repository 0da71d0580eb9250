/**
 * The Dockerfile, checked statically (no Docker engine here): bases, stages, user, entry points,
 * ports, and that every path the images need exists in the build context or is made by the build.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SIDECAR_ENV, SIDECAR_V8_FLAGS } from '../../src/cli/v8-flags.js';
import { loadPolicyFile } from '../../src/config/index.js';
import { copies, dockerignore, execForm, last, lineage, origin, parseDockerfile, stage, type Origin } from './dockerfile.js';
import { importGraph, packageName } from './import-graph.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const df = parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const ignored = dockerignore(readFileSync(path.join(ROOT, '.dockerignore'), 'utf8'));
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string>; scripts: Record<string, string> };
const buildConfig = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as { extends?: string; include: string[]; compilerOptions: { rootDir: string; outDir: string } };
const sidecar = df.stages.at(-1)!;
const init = stage(df, 'init');
const runs = (name: string): string => stage(df, name).instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
const workdir = (name: string): string => last(stage(df, name), 'WORKDIR')!.args;

/**
 * The repository file an image path comes from: a build-context file, or, for what `npm run build`
 * writes in the build stage, the compiled file in dist/ — or its source in src/ when dist/ has not
 * been built (or is older than the file), since the build stage compiles src/ to dist/.
 */
function repoFile(o: Origin): string {
  if ('context' in o) return o.context;
  expect(o.stage, `${o.path} is made by a RUN in stage ${o.stage}, not by the build`).toBe('build');
  const rel = path.posix.relative(workdir('build'), o.path);
  const outDir = buildConfig.compilerOptions.outDir.replace(/^\.\//, '');
  expect(rel.startsWith(`${outDir}/`), `${o.path} is not under the build output ${outDir}/`).toBe(true);
  if (existsSync(path.join(ROOT, rel))) return rel;
  return path.posix.join(buildConfig.compilerOptions.rootDir, path.posix.relative(outDir, rel)).replace(/\.js$/, '.ts');
}

describe('Dockerfile', () => {
  it('builds every stage on the Node 24 LTS slim image', () => {
    const bases = df.stages.filter((s) => !df.stages.some((o) => o.name === s.from)).map((s) => s.from);
    expect(bases.length).toBeGreaterThan(0);
    for (const b of bases) expect(b).toMatch(/^node:24(\.\d+){0,2}-(bookworm|trixie)-slim$/);
  });

  it('builds with npm ci and npm run build, and installs production dependencies only for the image', () => {
    expect(runs('build')).toMatch(/\bnpm ci\b/);
    expect(runs('build')).toMatch(/\bnpm run build\b/);
    expect(runs('prod-deps')).toMatch(/\bnpm ci\b[^\n]*--omit=dev/);
    // `prepare` runs the build, which needs the dev dependencies that --omit=dev leaves out.
    expect(runs('prod-deps')).toMatch(/\bnpm ci\b[^\n]*--ignore-scripts/);
    expect(origin(df, sidecar, '/app/node_modules')).toEqual({ stage: 'prod-deps', path: '/app/node_modules' });
  });

  it('the sidecar stage is the default target: uid/gid 1337, `pilotfish run`, policy path, ports', () => {
    expect(sidecar.name).toBe('sidecar');
    expect(last(sidecar, 'USER')!.args).toBe('1337:1337');
    // The sidecar's V8 flags on node's command line (no re-execution in the image), the same as the CLI's.
    expect(execForm(last(sidecar, 'ENTRYPOINT'))).toEqual(['node', ...SIDECAR_V8_FLAGS, '/app/dist/cli/main.js', 'run']);
    expect(last(sidecar, 'CMD')).toBeUndefined();
    const env = sidecar.instructions.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
    expect(env).toContain('PILOTFISH_POLICY=/etc/pilotfish/policy.yaml');
    // The allocator's environment too (glibc reads it when node starts), the same as the re-execution's.
    for (const [k, v] of Object.entries(SIDECAR_ENV)) expect(env.split(/\s+/)).toContain(`${k}=${v}`);
    const exposed = sidecar.instructions.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).sort();
    expect(exposed).toEqual(['15001', '15006', '15020']);
  });

  it('warms the compile cache with a start as the pod runs it (uid 1337, the entry point), then leaves it root-owned and read-only', () => {
    const env = sidecar.instructions.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
    expect(env.split(/\s+/)).toContain('NODE_COMPILE_CACHE=/app/compile-cache');
    const entry = execForm(last(sidecar, 'ENTRYPOINT'))!.join(' ');
    const at = sidecar.instructions.findIndex((i) => i.op === 'RUN' && i.args.startsWith(`${entry} `));
    expect(at, `a RUN starting \`${entry}\``).toBeGreaterThan(-1);
    expect(sidecar.instructions.slice(0, at).filter((i) => i.op === 'USER').at(-1)?.args).toBe('1337:1337');
    // A clean exit is when Node writes the cache: SIGTERM, and the RUN fails unless the process exits 0.
    expect(sidecar.instructions[at]!.args).toMatch(/kill -TERM "\$pid" && wait "\$pid"/);
    const after = sidecar.instructions.slice(at + 1);
    const handover = after.findIndex((i) => i.op === 'RUN' && /chown -R 0:0 \/app\/compile-cache/.test(i.args) && /chmod -R [^ ]*go-w/.test(i.args));
    expect(handover).toBeGreaterThan(-1);
    expect(after.slice(0, handover).filter((i) => i.op === 'USER').at(-1)?.args).toBe('0:0');
  });

  it('`npm start` starts the sidecar as the image does: its V8 flags and its environment', () => {
    const words = pkg.scripts.start!.split(/\s+/);
    const node = words.indexOf('node');
    expect(words.slice(0, node).sort()).toEqual(Object.entries(SIDECAR_ENV).map(([k, v]) => `${k}=${v}`).sort());
    expect(words.slice(node, node + 1 + SIDECAR_V8_FLAGS.length + 2)).toEqual(['node', ...SIDECAR_V8_FLAGS, 'dist/cli/main.js', 'run']);
  });

  it('the images carry no build tools or package managers, and their code is not writable by the proxy', () => {
    for (const s of lineage(df, sidecar)) {
      expect(s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n'), s.name).not.toMatch(/apt-get install|npm (ci|install)|build-essential|gcc|python/);
      for (const c of copies(df, s)) expect(c.chown, `line ${c.line}`).toBe(false);
    }
    expect(runs('runtime-base')).toMatch(/rm -rf [^\n]*\/usr\/local\/lib\/node_modules\/npm/);
    expect(sidecar.instructions.some((i) => i.op === 'VOLUME')).toBe(false);
  });

  it("the entry point and the default policy are in the image, and the policy is one the sidecar accepts", async () => {
    const main = repoFile(origin(df, sidecar, '/app/dist/cli/main.js'));
    expect(existsSync(path.join(ROOT, main)), main).toBe(true);
    const policy = origin(df, sidecar, '/etc/pilotfish/policy.yaml');
    expect(policy).toEqual({ context: 'config/policy.yaml' });
    const loaded = await loadPolicyFile(path.join(ROOT, 'config/policy.yaml'));
    expect(loaded.ok).toBe(true);
    expect(repoFile(origin(df, sidecar, '/app/package.json'))).toBe('package.json');
  });

  it('every COPY from the build context names a path that exists and is not excluded by .dockerignore', () => {
    const sources = df.stages.flatMap((s) => copies(df, s).filter((c) => c.from === undefined).flatMap((c) => c.sources));
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      expect(existsSync(path.join(ROOT, src)), src).toBe(true);
      expect(ignored(src), `${src} is excluded by .dockerignore`).toBe(false);
    }
    expect(ignored('node_modules/yaml/package.json')).toBe(true);
    expect(ignored('dist/cli/main.js')).toBe(true);
    expect(ignored('src/kube/inject.test.ts')).toBe(true);
  });

  it('the build stage has everything the compiler reads: both tsconfigs and every included folder', () => {
    const copied = copies(df, stage(df, 'build')).filter((c) => c.from === undefined).flatMap((c) => c.sources.map((s) => s.replace(/^\.\//, '')));
    expect(copied).toContain('tsconfig.build.json');
    // `npm run build` bundles the CLI after tsc: the bundler's config must be there too.
    expect(pkg.scripts.build).toMatch(/rolldown -c rolldown\.config\.mjs/);
    expect(copied).toContain('rolldown.config.mjs');
    if (buildConfig.extends) expect(copied).toContain(buildConfig.extends.replace(/^\.\//, ''));
    for (const dir of buildConfig.include) {
      expect(copied).toContain(dir);
      expect(statSync(path.join(ROOT, dir)).isDirectory()).toBe(true);
    }
  });

  it('every package the sidecar imports at run time is a production dependency', () => {
    const graph = importGraph(path.join(ROOT, 'src/cli/main.ts'));
    for (const spec of graph.packages) {
      if (spec.startsWith('node:') || builtinModules.includes(spec)) continue;
      expect(Object.keys(pkg.dependencies), `${spec} is imported by the sidecar`).toContain(packageName(spec));
    }
  });
});

describe('init image', () => {
  it('has iptables, runs as root, and runs `pilotfish iptables`', () => {
    expect(runs('init')).toMatch(/apt-get install[^\n]*\biptables\b/);
    expect(last(init, 'USER')!.args).toMatch(/^0(:0)?$/);
    const entry = execForm(last(init, 'ENTRYPOINT'))!;
    expect(entry.slice(0, 1)).toEqual(['node']);
    const script = repoFile(origin(df, init, entry[1]!));
    expect(existsSync(path.join(ROOT, script)), script).toBe(true);
    expect(script).toMatch(/kube\/init-main\.(js|ts)$/);
  });

  it('needs nothing but Node built-ins, since it carries no node_modules', () => {
    expect(origin(df, init, '/app/node_modules/yaml/package.json')).toEqual({ stage: 'init', path: '/app/node_modules/yaml/package.json' });
    const graph = importGraph(path.join(ROOT, 'src/kube/init-main.ts'));
    expect([...graph.packages].filter((p) => !p.startsWith('node:'))).toEqual([]);
    for (const f of graph.files) expect(path.relative(ROOT, f)).toMatch(/^src\//);
    expect(graph.files.size).toBeGreaterThan(3);
  });
});

describe('deploy/build-images.sh', () => {
  it('builds both targets of the Dockerfile and pushes them, tagged with the package version by default', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pilotfish-docker-'));
    const log = path.join(dir, 'calls');
    const stub = path.join(dir, 'docker');
    writeFileSync(stub, `#!/bin/sh\necho "$*" >> ${log}\n`);
    chmodSync(stub, 0o755);
    execFileSync('sh', [path.join(ROOT, 'deploy/build-images.sh'), 'reg.example/team'], { env: { ...process.env, DOCKER: stub }, stdio: 'pipe' });
    const v = pkg.version;
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
      `build --target sidecar -t reg.example/team/pilotfish:${v} .`,
      `build --target init -t reg.example/team/pilotfish-init:${v} .`,
      `push reg.example/team/pilotfish:${v}`,
      `push reg.example/team/pilotfish-init:${v}`,
    ]);
    for (const target of ['sidecar', 'init']) expect(df.stages.map((s) => s.name)).toContain(target);
  });
});
