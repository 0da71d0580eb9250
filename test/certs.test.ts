/**
 * `pilotfish certs` as a process: a mesh CA and workload certificates in cert-manager's layout,
 * which the sidecar's own checks accept (material.ts) and which a second implementation, the
 * `openssl` CLI, verifies as client and server certificates of that CA; usage errors exit 2.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { checkMaterial } from '../src/identity/index.js';
import { certsCli, meshCa } from './helpers/certs.js';
import { CLI } from './helpers/sidecar.js';
import { OPENSSL, needs } from './helpers/system.js';

const run = promisify(execFile);
const ID = 'spiffe://cluster.local/ns/shop/sa/frontend';

describe('pilotfish certs', () => {
  it('issues an X.509-SVID the sidecar accepts: one SPIFFE ID, client and server use, the key kept private', async () => {
    const mesh = await meshCa();
    const dir = await mesh.issue(ID);
    const [cert, key, ca] = await Promise.all(['tls.crt', 'tls.key', 'ca.crt'].map((f) => readFile(path.join(dir, f), 'utf8')));
    const r = checkMaterial({ cert: cert!, key: key!, ca: ca! }, 'cluster.local', Date.now());
    expect(r.ok ? r.material.spiffe.id : r.reason).toBe(ID);
    const leaf = new X509Certificate(cert!);
    expect(leaf.subjectAltName).toBe(`URI:${ID}`);
    expect(leaf.ca).toBe(false);
    expect(leaf.validToDate.getTime() - Date.now()).toBeGreaterThan(23 * 3_600_000);
    expect((await stat(path.join(dir, 'tls.key'))).mode & 0o077).toBe(0);
    expect((await stat(path.join(mesh.caDir, 'ca.key'))).mode & 0o077).toBe(0);
  });

  it.each<[string[], RegExp]>([
    [['issue', '--ca', '/nonexistent', '--id', 'http://x', '--out', '/tmp/x'], /--id http:\/\/x: a SPIFFE ID starts with spiffe:\/\//],
    [['ca', '--out', '/tmp/x', '--trust-domain', 'Bad:Domain'], /--trust-domain/],
    [['ca', '--out', '/tmp/x', '--valid', 'soon'], /invalid --valid soon/],
    [['ca'], /--out DIR is required/],
    [['renew'], /unknown subcommand "renew"/],
  ])('usage error %j: exit 2', async (args, message) => {
    const r = await run(process.execPath, [CLI, 'certs', ...args]).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('refuses an ID outside the CA\'s trust domain', async () => {
    const mesh = await meshCa();
    await expect(certsCli('issue', '--ca', mesh.caDir, '--id', 'spiffe://example.org/ns/a/sa/b', '--out', path.join(mesh.caDir, '..', 'x')))
      .rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('not in the CA\'s trust domain cluster.local') });
  });

  const openssl = needs(OPENSSL);
  it.skipIf(!openssl.ok)(`openssl verifies the certificates as the CA's client and server certificates${openssl.label}`, async () => {
    const mesh = await meshCa();
    const dir = await mesh.issue(ID);
    for (const purpose of ['sslclient', 'sslserver']) {
      const { stdout } = await run('openssl', ['verify', '-purpose', purpose, '-CAfile', path.join(dir, 'ca.crt'), path.join(dir, 'tls.crt')]);
      expect(stdout.trim()).toBe(`${path.join(dir, 'tls.crt')}: OK`);
    }
  });
});
