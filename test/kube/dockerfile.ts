/**
 * Just enough of a Dockerfile reader for static checks (no Docker engine on these machines):
 * instructions with continuations joined, stages with their base, and the mapping of a path inside
 * a stage's image back to the build context through COPY instructions.
 */
export interface Instruction {
  readonly op: string;
  readonly args: string;
  readonly line: number;
}

export interface Stage {
  readonly name: string;
  /** The base: an image reference (ARGs resolved) or an earlier stage's name. */
  readonly from: string;
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  readonly args: Readonly<Record<string, string>>;
  readonly stages: readonly Stage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.trimEnd().endsWith('\\') && i + 1 < lines.length) {
      line = line.trimEnd().slice(0, -1) + ' ' + (/^\s*#/.test(lines[i + 1]!) ? '' : lines[i + 1]!.trim());
      i++;
    }
    const m = /^\s*(\w+)\s+(.*)$/.exec(line);
    if (m) instructions.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start + 1 });
  }
  const args: Record<string, string> = {};
  const stages: Array<{ name: string; from: string; instructions: Instruction[] }> = [];
  for (const ins of instructions) {
    if (ins.op === 'ARG' && stages.length === 0) {
      const [k, v] = ins.args.split('=');
      args[k!] = v ?? '';
    } else if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)!;
      const from = m[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_s, a: string | undefined, b: string | undefined) => args[(a ?? b)!] ?? '');
      stages.push({ name: m[2] ?? String(stages.length), from, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(ins);
    }
  }
  return { args, stages };
}

export function stage(df: Dockerfile, name: string): Stage {
  const s = df.stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage ${name}`);
  return s;
}

/** The stage and its ancestors (through `FROM <stage>`), nearest first. */
export function lineage(df: Dockerfile, s: Stage): Stage[] {
  const out = [s];
  for (let parent = df.stages.find((x) => x.name === s.from); parent; parent = df.stages.find((x) => x.name === parent!.from)) out.push(parent);
  return out;
}

export interface Copy {
  readonly from: string | undefined;
  readonly sources: readonly string[];
  /** Absolute destination (relative ones resolved against WORKDIR). */
  readonly dest: string;
  readonly chown: boolean;
  readonly line: number;
}

/** The working directory a stage starts in: the last WORKDIR of its ancestors (through `FROM <stage>`). */
function inheritedWorkdir(df: Dockerfile, s: Stage): string {
  for (const st of lineage(df, s).slice(1)) {
    const w = last(st, 'WORKDIR');
    if (w) return w.args;
  }
  return '/';
}

/** The COPY instructions of one stage (not its ancestors), destinations made absolute. */
export function copies(df: Dockerfile, s: Stage): Copy[] {
  let workdir = inheritedWorkdir(df, s);
  const out: Copy[] = [];
  for (const ins of s.instructions) {
    if (ins.op === 'WORKDIR') workdir = ins.args.startsWith('/') ? ins.args : `${workdir.replace(/\/$/, '')}/${ins.args}`;
    if (ins.op !== 'COPY' && ins.op !== 'ADD') continue;
    const words = ins.args.split(/\s+/);
    const flags = words.filter((w) => w.startsWith('--'));
    const paths = words.filter((w) => !w.startsWith('--'));
    const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
    const rawDest = paths.at(-1)!;
    let dest = rawDest.startsWith('/') ? rawDest : `${workdir.replace(/\/$/, '')}/${rawDest.replace(/^\.\/?/, '')}`;
    if (rawDest.endsWith('/') || rawDest === '.' || rawDest === './') dest = dest.replace(/\/?$/, '/');
    out.push({ from, sources: paths.slice(0, -1), dest, chown: flags.some((f) => f.startsWith('--chown')), line: ins.line });
  }
  return out;
}

/** Where a path inside a stage's image comes from: a build-context path, or a stage path nothing copied there. */
export type Origin = { readonly context: string } | { readonly stage: string; readonly path: string };

/**
 * Follows COPY instructions back from `path` in stage `s`: to the build context, or to the stage
 * where no COPY put it, so a RUN there made it (returned as `{ stage, path }` for the caller to
 * judge). A destination ending in `/` receives files under their own names; any other destination
 * is the source itself (a file, or a directory's contents), which is how this Dockerfile copies.
 */
export function origin(df: Dockerfile, s: Stage, path: string): Origin {
  for (const st of lineage(df, s)) {
    for (const c of copies(df, st).reverse()) {
      for (const src of c.sources) {
        const base = src.replace(/^\.\//, '').replace(/\/$/, '');
        const root = c.dest.endsWith('/') ? `${c.dest}${base.split('/').at(-1)}` : c.dest;
        if (path !== root && !path.startsWith(`${root}/`)) continue;
        const rest = path.slice(root.length);
        if (c.from === undefined) return { context: `${base}${rest}` };
        const next = df.stages.find((x) => x.name === c.from);
        if (!next) throw new Error(`line ${c.line}: COPY --from=${c.from}: no such stage`);
        return origin(df, next, `${base}${rest}`);
      }
    }
  }
  return { stage: s.name, path };
}

/** The JSON (exec) form of ENTRYPOINT/CMD; undefined for the shell form. */
export function execForm(ins: Instruction | undefined): string[] | undefined {
  if (!ins || !ins.args.startsWith('[')) return undefined;
  return JSON.parse(ins.args) as string[];
}

export function last(s: Stage, op: string): Instruction | undefined {
  return s.instructions.filter((i) => i.op === op).at(-1);
}

/** A .dockerignore matcher (the patterns this repository uses: `*`, `**`, `?`, no negation). */
export function dockerignore(text: string): (path: string) => boolean {
  const patterns = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const regexes = patterns.map((p) => new RegExp(`^${p.replace(/^\//, '').split('**/').map((part) =>
    part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('(?:.*/)?')}$`));
  return (path) => {
    const parts = path.replace(/^\.\//, '').split('/');
    // A path is out when it or any directory above it matches.
    return parts.some((_p, i) => regexes.some((r) => r.test(parts.slice(0, i + 1).join('/'))));
  };
}
