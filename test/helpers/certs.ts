/**
 * Real certificates for tests: minted by the `pilotfish certs` command (a real process, as a user
 * runs it) for the mesh's ordinary identities, and by its module (identity/mint.ts) where a test
 * needs what the command does not make on purpose (an expired certificate, a given validity).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rename, symlink, mkdir, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { issueCertificate, type LeafOptions, type Pem } from '../../src/identity/mint.js';
import { CLI } from './sidecar.js';

const run = promisify(execFile);

/** `pilotfish certs …` as a process; resolves with its stdout. */
export async function certsCli(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [CLI, 'certs', ...args]);
  return stdout;
}

export interface Mesh {
  /** The CA's directory (ca.crt, ca.key). */
  readonly caDir: string;
  readonly ca: Pem;
  /** A workload's certificate directory, minted by `pilotfish certs issue`. */
  issue(id: string, name?: string): Promise<string>;
}

/** A mesh CA made by `pilotfish certs ca` in a new temporary directory. */
export async function meshCa(trustDomain = 'cluster.local'): Promise<Mesh> {
  const root = await mkdtemp(path.join(tmpdir(), 'pilotfish-mesh-'));
  const caDir = path.join(root, 'ca');
  await certsCli('ca', '--out', caDir, '--trust-domain', trustDomain);
  const ca = { cert: await readFile(path.join(caDir, 'ca.crt'), 'utf8'), key: await readFile(path.join(caDir, 'ca.key'), 'utf8') };
  let n = 0;
  return {
    caDir, ca,
    async issue(id, name = `w${n++}`) {
      const out = path.join(root, name);
      await certsCli('issue', '--ca', caDir, '--id', id, '--out', out);
      return out;
    },
  };
}

/** A certificate directory in cert-manager's layout, minted with `options` (module, not command). */
export async function writeLeafDir(ca: Pem, options: LeafOptions, dir?: string): Promise<string> {
  const out = dir ?? await mkdtemp(path.join(tmpdir(), 'pilotfish-leaf-'));
  const leaf = await issueCertificate(ca, options);
  await mkdir(out, { recursive: true });
  await writeFile(path.join(out, 'tls.crt'), leaf.cert);
  await writeFile(path.join(out, 'tls.key'), leaf.key);
  await writeFile(path.join(out, 'ca.crt'), ca.cert);
  return out;
}

/**
 * A certificate volume as kubelet writes a Secret: the files are symlinks through `..data` to a
 * timestamped directory, and an update writes a new directory and swaps `..data` atomically.
 */
export class SecretVolume {
  private version = 0;

  private constructor(readonly dir: string) {}

  static async create(files: { cert: string; key: string; ca: string }): Promise<SecretVolume> {
    const v = new SecretVolume(await mkdtemp(path.join(tmpdir(), 'pilotfish-secret-')));
    await v.write(files);
    for (const f of ['tls.crt', 'tls.key', 'ca.crt']) await symlink(path.join('..data', f), path.join(v.dir, f));
    return v;
  }

  get certFile(): string { return path.join(this.dir, 'tls.crt'); }
  get keyFile(): string { return path.join(this.dir, 'tls.key'); }
  get caFile(): string { return path.join(this.dir, 'ca.crt'); }

  /** kubelet's atomic update: a new `..<version>` directory, then `..data_tmp` renamed over `..data`. */
  async write(files: { cert: string; key: string; ca: string }): Promise<void> {
    const name = `..${++this.version}_${Date.now()}`;
    const dir = path.join(this.dir, name);
    await mkdir(dir);
    await writeFile(path.join(dir, 'tls.crt'), files.cert);
    await writeFile(path.join(dir, 'tls.key'), files.key);
    await writeFile(path.join(dir, 'ca.crt'), files.ca);
    const tmp = path.join(this.dir, '..data_tmp');
    await unlink(tmp).catch(() => {});
    await symlink(name, tmp);
    await rename(tmp, path.join(this.dir, '..data'));
  }
}
