/**
 * The workload's identity as the sidecar holds it: the current checked material (material.ts), the
 * TLS contexts made from it, and its rotation. The certificate files are watched the way the policy
 * file is (reload/policy-watcher.ts: the directory, so Kubernetes' `..data` symlink swap and
 * rename-over writes are seen, plus a slow poll); a change is read, checked, and only then swapped
 * in — new handshakes use the new pair, open connections carry on with theirs. A pair that fails
 * its checks (unreadable, mismatched key, foreign CA, wrong trust domain, expired) keeps the
 * previous one and is reported: the operational log, `pilotfish_cert_reloads_total{result="error"}`
 * and `/config_dump`'s `identity.lastError`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { tls } from '../core/lazy-builtins.js';
import { PolicyWatcher } from '../reload/index.js';
import { checkMaterial, type IdentityMaterial } from './material.js';

/** Where the workload's credentials are (SPEC §12; cert-manager's Secret layout by default). */
export interface IdentityConfig {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  /** The mesh's trust domain: the workload's SPIFFE ID, and every peer's, must be in it. */
  readonly trustDomain: string;
}

export type CertReloadResult = 'ok' | 'unchanged' | 'error';

export interface IdentityDeps {
  readonly log: Logger;
  /** Wall clock (ms since the epoch) for validity checks. Default `Date.now`. */
  readonly now?: () => number;
  /** Each load attempt: the result and the serving certificate's expiry (s since the epoch). */
  readonly onLoad?: (result: CertReloadResult, notAfterSeconds: number) => void;
  /** Quiet time after a file event before reading (ms). Default 25. */
  readonly debounceMs?: number;
  /** Safety-net re-read period (ms). Default 5 000. */
  readonly pollMs?: number;
}

/** The credentials for a TLS server or client, as node:tls takes them. */
export interface TlsCredentials {
  readonly key: string;
  readonly cert: string;
  readonly ca: string;
}

export class IdentityLoadError extends Error {
  constructor(readonly config: IdentityConfig, readonly reason: string) {
    super(`workload identity (${config.certFile}, ${config.keyFile}, ${config.caFile}): ${reason}`);
    this.name = 'IdentityLoadError';
  }
}

export class WorkloadIdentity {
  private material: IdentityMaterial;
  private context: SecureContext;
  private loadedAt = new Date();
  private rotated = 0;
  private failure: { at: Date; reason: string } | undefined;
  private readonly watchers: PolicyWatcher[] = [];
  private readonly listeners: Array<(m: IdentityMaterial) => void> = [];
  private reloading: Promise<CertReloadResult> | undefined;
  private again = false;
  private readonly now: () => number;

  private constructor(readonly config: IdentityConfig, private readonly deps: IdentityDeps, first: IdentityMaterial) {
    this.now = deps.now ?? Date.now;
    this.material = first;
    this.context = tls().createSecureContext(credentials(first));
  }

  /** Reads and checks the files once; throws `IdentityLoadError` when they are not usable. */
  static async load(config: IdentityConfig, deps: IdentityDeps): Promise<WorkloadIdentity> {
    const r = await read(config, (deps.now ?? Date.now)());
    if (!r.ok) throw new IdentityLoadError(config, r.reason);
    const identity = new WorkloadIdentity(config, deps, r.material);
    deps.onLoad?.('ok', seconds(r.material.notAfter));
    deps.log.info({ spiffeId: r.material.spiffe.id, notAfter: r.material.notAfter.toISOString() }, 'workload identity loaded');
    return identity;
  }

  /** How many rotations have been applied: TLS sessions resumed from before one are not reused. */
  get rotations(): number { return this.rotated; }

  /** The material serving now. */
  get current(): IdentityMaterial { return this.material; }
  get spiffeId(): string { return this.material.spiffe.id; }

  /** A client context with the current certificate and the mesh CA (outbound `mutual`), made once per rotation. */
  get clientContext(): SecureContext { return this.context; }

  /** The current key, certificate chain and CA, for a TLS server (`setSecureContext` takes these). */
  credentials(): TlsCredentials { return credentials(this.material); }

  /** `fn` runs after each rotation, with the new material (a server calls `setSecureContext`). */
  onRotate(fn: (m: IdentityMaterial) => void): void {
    this.listeners.push(fn);
  }

  /** Watches the files' directories; each change re-reads them. */
  start(): void {
    // One watcher per directory (usually the one volume holding all three files).
    const byDir = new Map<string, string>();
    for (const f of [this.config.certFile, this.config.keyFile, this.config.caFile]) byDir.set(path.dirname(path.resolve(f)), f);
    for (const [dir, file] of byDir) {
      const w = new PolicyWatcher(file, () => void this.reload(), {
        ...(this.deps.debounceMs === undefined ? {} : { debounceMs: this.deps.debounceMs }),
        ...(this.deps.pollMs === undefined ? {} : { pollMs: this.deps.pollMs }),
      }, (err) => this.deps.log.warn({ err, dir }, 'certificate watch failed; the periodic re-read still runs'));
      w.start();
      this.watchers.push(w);
    }
  }

  stop(): void {
    for (const w of this.watchers.splice(0)) w.stop();
  }

  /** Re-reads the files now. One at a time; a request during one makes one more run after it. */
  reload(): Promise<CertReloadResult> {
    if (this.reloading) { this.again = true; return this.reloading; }
    const run = async (): Promise<CertReloadResult> => {
      let result: CertReloadResult;
      do { this.again = false; result = await this.reloadOnce(); } while (this.again);
      return result;
    };
    this.reloading = run().finally(() => { this.reloading = undefined; });
    return this.reloading;
  }

  private async reloadOnce(): Promise<CertReloadResult> {
    const r = await read(this.config, this.now());
    if (r.ok && r.material.digest === this.material.digest) {
      this.failure = undefined; // the files are back to what serves
      this.deps.onLoad?.('unchanged', seconds(this.material.notAfter));
      return 'unchanged';
    }
    if (!r.ok) {
      // The same broken files seen again (the periodic re-read) are reported once.
      if (this.failure?.reason !== r.reason) {
        this.deps.log.error({ reason: r.reason, serving: this.material.spiffe.id, notAfter: this.material.notAfter.toISOString() }, 'workload certificate not rotated; keeping the previous one');
        this.deps.onLoad?.('error', seconds(this.material.notAfter));
      }
      this.failure = { at: new Date(), reason: r.reason };
      return 'error';
    }
    const previous = this.material;
    this.context = tls().createSecureContext(credentials(r.material));
    this.material = r.material;
    this.rotated++;
    this.loadedAt = new Date();
    this.failure = undefined;
    for (const fn of this.listeners) fn(r.material);
    this.deps.onLoad?.('ok', seconds(r.material.notAfter));
    this.deps.log.info({ spiffeId: r.material.spiffe.id, notAfter: r.material.notAfter.toISOString(), previousNotAfter: previous.notAfter.toISOString() }, 'workload certificate rotated');
    return 'ok';
  }

  /** For `/config_dump`. */
  describe(): Record<string, unknown> {
    const m = this.material;
    return {
      spiffeId: m.spiffe.id,
      trustDomain: this.config.trustDomain,
      files: { cert: this.config.certFile, key: this.config.keyFile, ca: this.config.caFile },
      notBefore: m.notBefore.toISOString(),
      notAfter: m.notAfter.toISOString(),
      expired: this.now() >= m.notAfter.getTime(),
      serial: m.leaf.serialNumber,
      loadedAt: this.loadedAt.toISOString(),
      lastError: this.failure ? { at: this.failure.at.toISOString(), reason: this.failure.reason } : null,
    };
  }
}

async function read(config: IdentityConfig, now: number): Promise<ReturnType<typeof checkMaterial>> {
  let texts: [string, string, string];
  try {
    texts = await Promise.all([readFile(config.certFile, 'utf8'), readFile(config.keyFile, 'utf8'), readFile(config.caFile, 'utf8')]);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, reason: `cannot read ${e.path ?? 'a certificate file'}: ${e.code ?? e.message}` };
  }
  return checkMaterial({ cert: texts[0], key: texts[1], ca: texts[2] }, config.trustDomain, now);
}

function credentials(m: IdentityMaterial): TlsCredentials {
  return { key: m.keyPem, cert: m.certPem, ca: m.caPem };
}

function seconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}
