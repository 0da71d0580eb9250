/**
 * `pilotfish certs ca --out DIR` and `pilotfish certs issue --ca DIR --id SPIFFE_ID --out DIR`
 * (SPEC §2, §12): a mesh CA and workload certificates in cert-manager's Secret layout (`tls.crt`,
 * `tls.key`, `ca.crt`), for demos and tests. Production meshes get theirs from cert-manager
 * (csi-driver-spiffe, or a Certificate per service account: docs/mtls.md). Each file is written
 * whole and renamed into place, so a sidecar watching DIR never reads half a file; keys are 0600.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from '../config/duration.js';
import { createCa, issueCertificate, type Pem } from './mint.js';
import { checkTrustDomain, parseSpiffeId, uriSans } from './spiffe.js';

export const CERTS_USAGE = `usage: pilotfish certs ca --out DIR [--trust-domain TD] [--valid DURATION]
       pilotfish certs issue --ca DIR --id SPIFFE_ID --out DIR [--dns NAME]... [--ip ADDRESS]... [--valid DURATION]
  ca     a self-signed mesh CA: DIR/ca.crt and DIR/ca.key (trust domain default cluster.local, valid 8760h)
  issue  a workload certificate signed by the CA in --ca: DIR/tls.crt, DIR/tls.key and DIR/ca.crt
         (--id spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>; valid 24h)
`;

export async function certsCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  try {
    if (sub === 'ca') return await ca(rest);
    if (sub === 'issue') return await issue(rest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      return usage(`pilotfish certs: ${(err as Error).message}`);
    }
    process.stderr.write(`pilotfish certs ${sub}: ${(err as Error).message}\n`);
    return 1;
  }
  return usage(sub === undefined ? '' : `pilotfish certs: unknown subcommand "${sub}"`);
}

async function ca(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' }, 'trust-domain': { type: 'string', default: 'cluster.local' }, valid: { type: 'string', default: '8760h' } } });
  if (!values.out) return usage('pilotfish certs ca: --out DIR is required');
  const td = checkTrustDomain(values['trust-domain']);
  if (td) return usage(`pilotfish certs ca: --trust-domain: ${td}`);
  const validMs = duration(values.valid);
  if (validMs === undefined) return usage(`pilotfish certs ca: invalid --valid ${values.valid} (e.g. 8760h)`);
  const notBefore = new Date(Date.now() - 60_000);
  const pem = await createCa({ trustDomain: values['trust-domain'], notBefore, notAfter: new Date(notBefore.getTime() + validMs) });
  await mkdir(values.out, { recursive: true });
  await put(values.out, 'ca.crt', pem.cert, 0o644);
  await put(values.out, 'ca.key', pem.key, 0o600);
  process.stdout.write(`${path.join(values.out, 'ca.crt')}, ${path.join(values.out, 'ca.key')}: mesh CA for spiffe://${values['trust-domain']}\n`);
  return 0;
}

async function issue(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ca: { type: 'string' }, id: { type: 'string' }, out: { type: 'string' },
      dns: { type: 'string', multiple: true, default: [] }, ip: { type: 'string', multiple: true, default: [] },
      valid: { type: 'string', default: '24h' },
    },
  });
  if (!values.ca || !values.id || !values.out) return usage('pilotfish certs issue: --ca DIR, --id SPIFFE_ID and --out DIR are required');
  const id = parseSpiffeId(values.id);
  if (typeof id === 'string') return usage(`pilotfish certs issue: --id ${values.id}: ${id}`);
  const validMs = duration(values.valid);
  if (validMs === undefined) return usage(`pilotfish certs issue: invalid --valid ${values.valid} (e.g. 24h)`);
  const authority: Pem = { cert: await readFile(path.join(values.ca, 'ca.crt'), 'utf8'), key: await readFile(path.join(values.ca, 'ca.key'), 'utf8') };
  const caDomain = uriSans(new X509Certificate(authority.cert).subjectAltName).map(parseSpiffeId).find((x) => typeof x !== 'string')?.trustDomain;
  if (caDomain !== undefined && caDomain !== id.trustDomain) {
    process.stderr.write(`pilotfish certs issue: ${values.id} is not in the CA's trust domain ${caDomain}\n`);
    return 1;
  }
  const notBefore = new Date(Date.now() - 60_000);
  const leaf = await issueCertificate(authority, { id: values.id, dns: values.dns, ips: values.ip, notBefore, notAfter: new Date(notBefore.getTime() + validMs) });
  await mkdir(values.out, { recursive: true });
  await put(values.out, 'tls.key', leaf.key, 0o600);
  await put(values.out, 'tls.crt', leaf.cert, 0o644);
  await put(values.out, 'ca.crt', authority.cert, 0o644);
  process.stdout.write(`${path.join(values.out, 'tls.crt')}: ${values.id}, valid until ${new Date(notBefore.getTime() + validMs).toISOString()}\n`);
  return 0;
}

/** Writes `name` in `dir` whole: a temporary file renamed over the old one. */
async function put(dir: string, name: string, text: string, mode: number): Promise<void> {
  const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
  await writeFile(tmp, text, { mode });
  await rename(tmp, path.join(dir, name));
}

function duration(text: string): number | undefined {
  const ms = parseDuration(text);
  return ms !== undefined && ms > 0 ? ms : undefined;
}

function usage(message: string): number {
  process.stderr.write(message ? `${message}\n\n${CERTS_USAGE}` : CERTS_USAGE);
  return 2;
}
