/**
 * `pilotfish inject -f FILE`: the injected manifests on stdout, notes and errors (file:line:col) on
 * stderr. Exit codes: 0 ok, 1 unreadable or invalid input (nothing is written to stdout then, so a
 * redirect never captures half a result), 2 usage errors.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseDuration } from '../config/index.js';
import { processIo, type CommandIo } from './command-io.js';
import { formatDiagnostic, injectManifests } from './inject.js';
import { DEFAULT_POLICY_CONFIGMAP, defaultImage, initImageFor } from './names.js';
import type { FleetSettings, MtlsSettings, SidecarSettings } from './sidecar-spec.js';
import { hasCredentials, parseFleetUrl } from '../fleet/url.js';
import { checkFleetKey } from '../fleet/keys.js';

export const INJECT_USAGE = `usage: pilotfish inject -f FILE [options]

Adds the Pilotfish sidecar, the traffic-capture init container and the policy volume to every
Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob and Pod in FILE (multi-document YAML;
other objects pass through unchanged) and writes the result to stdout.

  -f, --filename FILE         the manifests; - reads standard input (may be repeated)
  --policy-configmap NAME     ConfigMap holding policy.yaml (default ${DEFAULT_POLICY_CONFIGMAP})
  --native-sidecar            run the sidecar as a native sidecar: an init container with
                              restartPolicy: Always (Kubernetes >= 1.29; lets Jobs complete)
  --image IMAGE               sidecar image (default $PILOTFISH_IMAGE or pilotfish:<version>)
  --init-image IMAGE          init image (default: IMAGE with -init added to its name)
  --drain-timeout DURATION    the sidecar's drain timeout; sets terminationGracePeriodSeconds
                              to it plus 5s (default 20s)
  --fleet URL                 join the fleet in that Redis (redis:// or rediss://, no credentials:
                              a URL with a password belongs in a Secret, see --fleet-secret)
  --fleet-secret NAME[/KEY]   take the fleet URL from key KEY (default url) of Secret NAME
  --fleet-key K               the fleet's name in Redis (default: the sidecar's, "default")
  --mtls                      mount the workload certificate (mutual TLS, SPEC §12) at
                              /etc/pilotfish/certs from cert-manager's csi-driver-spiffe
                              (driver spiffe.csi.cert-manager.io: one SPIFFE ID per pod, renewed in place)
  --mtls-secret NAME          mount it from Secret NAME instead (cert-manager's tls.crt/tls.key/ca.crt;
                              {sa} in NAME becomes the pod's service account); implies --mtls
The policy turns mutual TLS on with an \`identity\` block (its defaults are these files).
A workload or pod template annotated pilotfish.io/inject: "false" is left alone.
`;

export async function injectCommand(args: string[], io: CommandIo = processIo): Promise<number> {
  const usage = (message: string): number => { io.stderr(`pilotfish inject: ${message}\n\n${INJECT_USAGE}`); return 2; };
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, strict: true, allowPositionals: true, options: OPTIONS }));
  } catch (err) {
    return usage((err as Error).message);
  }
  if (values.help) { io.stdout(INJECT_USAGE); return 0; }
  if (positionals.length > 0) return usage(`unexpected argument "${positionals[0]}" (name files with -f)`);
  const files = values.filename ?? [];
  if (files.length === 0) return usage('no input: give -f FILE, or -f - for standard input');
  const drainTimeoutMs = parseDuration(values['drain-timeout'] ?? '20s');
  if (drainTimeoutMs === undefined) return usage(`invalid --drain-timeout "${values['drain-timeout']}" (e.g. 20s)`);
  const image = values.image ?? defaultImage();
  const initImage = values['init-image'] ?? initImageFor(image);
  if (initImage === undefined) return usage(`--image ${image} is pinned by digest: name the init image with --init-image`);
  const fleet = fleetSettings(values['fleet'], values['fleet-secret'], values['fleet-key']);
  if (typeof fleet === 'string') return usage(fleet);
  const mtls = mtlsSettings(values.mtls ?? false, values['mtls-secret']);
  if (typeof mtls === 'string') return usage(mtls);
  const settings: SidecarSettings = {
    image, initImage, drainTimeoutMs,
    policyConfigMap: values['policy-configmap'] ?? DEFAULT_POLICY_CONFIGMAP,
    nativeSidecar: values['native-sidecar'] ?? false,
    fleet,
    mtls,
  };

  const outputs: string[] = [];
  let failed = false;
  for (const file of files) {
    const label = file === '-' ? '<stdin>' : file;
    let text: string;
    try {
      text = file === '-' ? await io.readStdin() : await readFile(file, 'utf8');
    } catch (err) {
      io.stderr(`pilotfish inject: cannot read ${label}: ${(err as Error).message}\n`);
      failed = true;
      continue;
    }
    const result = injectManifests(text, settings);
    for (const n of result.notes) io.stderr(`${formatDiagnostic(label, n)}\n`);
    for (const e of result.errors) io.stderr(`${formatDiagnostic(label, e)}\n`);
    if (!result.ok) { failed = true; continue; }
    outputs.push(result.output);
  }
  if (failed) return 1;
  io.stdout(joinStreams(outputs));
  return 0;
}

const OPTIONS = {
  filename: { type: 'string', short: 'f', multiple: true },
  'policy-configmap': { type: 'string' },
  'native-sidecar': { type: 'boolean' },
  image: { type: 'string' },
  'init-image': { type: 'string' },
  'drain-timeout': { type: 'string' },
  fleet: { type: 'string' },
  'fleet-secret': { type: 'string' },
  'fleet-key': { type: 'string' },
  mtls: { type: 'boolean' },
  'mtls-secret': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The fleet options, checked (a string is a usage error). Credentials never go into a manifest in clear. */
function fleetSettings(url: string | undefined, secret: string | undefined, key: string | undefined): FleetSettings | undefined | string {
  if (url !== undefined && secret !== undefined) return 'give --fleet or --fleet-secret, not both';
  if (url === undefined && secret === undefined) return key === undefined ? undefined : '--fleet-key needs --fleet or --fleet-secret';
  if (key !== undefined) {
    const bad = checkFleetKey(key);
    if (bad) return bad;
  }
  if (secret !== undefined) {
    const m = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)(?:\/([-._a-zA-Z0-9]+))?$/.exec(secret);
    if (!m) return `--fleet-secret takes NAME or NAME/KEY (a Secret's name and key), got "${secret}"`;
    return { secret: { name: m[1]!, key: m[3] ?? 'url' }, key };
  }
  let u: URL;
  try {
    u = parseFleetUrl(url!);
  } catch (err) {
    return (err as Error).message;
  }
  if (hasCredentials(u)) return '--fleet URL carries credentials, which would be written into the manifests in clear: put the URL in a Secret and use --fleet-secret NAME[/KEY]';
  return { url: url!, key };
}

/** `--mtls` / `--mtls-secret NAME` (a string is a usage error). */
function mtlsSettings(csi: boolean, secret: string | undefined): MtlsSettings | undefined | string {
  if (secret === undefined) return csi ? { source: 'csi' } : undefined;
  // A Secret name is a DNS subdomain; `{sa}` stands for one (a service account name is one too).
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(secret.replaceAll('{sa}', 'sa')) || secret.length > 253) {
    return `--mtls-secret takes a Secret name (lower-case letters, digits, "-", "."; {sa} for the service account), got "${secret}"`;
  }
  return { source: 'secret', secretName: secret };
}

/** Several files become one stream: a `---` between them unless the next one starts with its own. */
function joinStreams(outputs: readonly string[]): string {
  let out = '';
  for (const text of outputs) {
    if (out !== '') {
      if (!out.endsWith('\n')) out += '\n';
      if (!/^---(\s|$)/.test(text)) out += '---\n';
    }
    out += text;
  }
  return out;
}
