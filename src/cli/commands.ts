/**
 * `pilotfish` — the command line (SPEC §2), imported by `main.ts` once the process runs with the
 * sidecar's V8 flags. Exit codes: 0 ok, 1 invalid policy / failed checks,
 * 2 usage errors. Each command's module is imported when that command runs: `pilotfish run` never
 * loads the chaos runner, the Kubernetes tooling, `explain` or the Redis client (without a fleet) —
 * memory is a sidecar's price.
 */
import { parseArgs } from 'node:util';
import { CHAOS_USAGE } from '../chaos/usage.js';
import { ENGINES } from '../proxy/engine.js';

const USAGE = `usage: pilotfish <command> [options]

commands:
  run [--policy FILE] [--fleet URL [--fleet-key K]] [--demo] [--log-level LEVEL] [--drain-timeout DURATION] [--no-access-log] [--engine ${ENGINES.join('|')}]
        run the sidecar (policy default: $PILOTFISH_POLICY or config/policy.yaml);
        --fleet joins fleet K (default "default") in that Redis ($PILOTFISH_FLEET, $PILOTFISH_FLEET_KEY):
        its published policy wins over the file, which is the bootstrap and the fallback;
        --demo also starts the demo echo upstreams v1 (127.0.0.1:9081) and v2 (:9082)
  validate FILE...
        check policy files; exit 1 listing every error as file:line:col key.path: message
  explain FILE --url URL [--method M] [-H 'name: value']... [--inbound [--principal SPIFFE_ID]] [--source-ip IP] [--locality REGION/ZONE] [--json]
        the routing decision for that request, sending nothing: routes considered and why, the
        winner, the split (locality tiers and shares), the sticky bucket and endpoint, the effective
        timeout/retry/fault/mirror/rate limit; --locality (default $PILOTFISH_LOCALITY) places the sidecar;
        inbound, the authorization rule that decides for a peer --principal (none: a plaintext peer)
  inject -f FILE [-f FILE...] [--policy-configmap NAME] [--native-sidecar] [--image IMAGE] [--init-image IMAGE] [--drain-timeout DURATION]
        write FILE's manifests to stdout with the sidecar, the capture init container and the policy volume added (-f - reads stdin)
  iptables [--dry-run | --cleanup] [--exclude-inbound-ports P,..] [--exclude-outbound-ports P,..] [--exclude-outbound-cidrs CIDR,..] [--ipv6 auto|on|off] ...
        install (or print) the pod's traffic-capture rules; run by the pilotfish-init container
  publish FILE --fleet URL [--fleet-key K] [--message M] [--expect-generation N] [--json]
        validate FILE as \`validate\` does and publish it as the fleet's next generation
        (exit 1 invalid, nothing published; 3 --expect-generation did not match)
  rollback --fleet URL [--fleet-key K] [--to N] [--json]
        republish an earlier generation (default: the one before the current) as a new one
  fleet status --fleet URL [--fleet-key K] [--wait DURATION] [--json]
        the fleet's generation, history and live sidecars; exit 0 when all serve the current one
  certs ca --out DIR [--trust-domain TD] [--valid DURATION]
  certs issue --ca DIR --id SPIFFE_ID --out DIR [--dns NAME]... [--ip ADDRESS]... [--valid DURATION]
        a mesh CA (ca.crt, ca.key) and workload certificates (tls.crt, tls.key, ca.crt) for demos and tests
  ${CHAOS_USAGE.replace('usage: pilotfish ', '')}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return (await import('./run-command.js')).runCommand(rest);
    case 'validate': return validate(rest);
    case 'explain': return explain(rest);
    case 'inject': return (await import('../kube/inject-command.js')).injectCommand(rest);
    case 'chaos': return (await import('../chaos/chaos-command.js')).chaosCommand(rest);
    case 'iptables': return (await import('../kube/iptables-command.js')).iptablesCommand(rest);
    // The fleet commands load the Redis client: only when one of them runs.
    case 'publish': return (await import('../fleet/commands/index.js')).publishCommand(rest);
    case 'rollback': return (await import('../fleet/commands/index.js')).rollbackCommand(rest);
    case 'fleet': return (await import('../fleet/commands/index.js')).fleetCommand(rest);
    case 'certs': return (await import('../identity/certs-command.js')).certsCommand(rest);
    case '-h': case '--help': case 'help': process.stdout.write(USAGE); return 0;
    default:
      process.stderr.write(command ? `pilotfish: unknown command "${command}"\n\n${USAGE}` : USAGE);
      return 2;
  }
}

async function validate(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length === 0) { process.stderr.write('pilotfish validate: no file given\n'); return 2; }
  const { formatDiagnostic, loadPolicyFile } = await import('../config/index.js');
  let failed = false;
  for (const file of positionals) {
    const r = await loadPolicyFile(file);
    for (const w of r.warnings) process.stdout.write(`${formatDiagnostic(w)}\n`);
    if (r.ok) process.stdout.write(`${file}: ok (${r.policy.routes.length} routes, ${Object.keys(r.policy.upstreams).length} upstreams)\n`);
    else { failed = true; for (const e of r.errors) process.stdout.write(`${formatDiagnostic(e)}\n`); }
  }
  return failed ? 1 : 0;
}

async function explain(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: {
      url: { type: 'string' }, method: { type: 'string', default: 'GET' }, header: { type: 'string', short: 'H', multiple: true, default: [] },
      inbound: { type: 'boolean', default: false }, 'source-ip': { type: 'string' }, json: { type: 'boolean', default: false },
      principal: { type: 'string' },
      locality: { type: 'string', default: process.env.PILOTFISH_LOCALITY ?? '' },
    },
  });
  const { localityOption } = await import('./locality-option.js');
  const place = localityOption(values.locality, 'pilotfish explain: --locality');
  if (place === false) return 2;
  const file = positionals[0];
  if (!file || !values.url) { process.stderr.write('usage: pilotfish explain FILE --url URL [--method M] [-H "name: value"]... [--inbound] [--json]\n'); return 2; }
  if (!/^http:\/\//i.test(values.url)) { process.stderr.write('pilotfish explain: --url must be an absolute http:// URL\n'); return 2; }
  const headers: Record<string, string> = {};
  for (const h of values.header) {
    const i = h.indexOf(':');
    if (i <= 0) { process.stderr.write(`pilotfish explain: -H expects "name: value", got ${JSON.stringify(h)}\n`); return 2; }
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  if (values.principal !== undefined) {
    const { parseSpiffeId } = await import('../identity/spiffe.js');
    const id = parseSpiffeId(values.principal);
    if (typeof id === 'string') { process.stderr.write(`pilotfish explain: --principal ${values.principal}: ${id}\n`); return 2; }
  }
  const { formatDiagnostic } = await import('../config/index.js');
  const { explainFile, renderExplanation } = await import('../explain/index.js');
  const r = await explainFile(file, {
    url: values.url, method: values.method, headers, direction: values.inbound ? 'inbound' : 'outbound', sourceIp: values['source-ip'], principal: values.principal,
  }, place);
  if (!r.ok) { for (const e of r.errors) process.stderr.write(`${formatDiagnostic(e)}\n`); return 1; }
  process.stdout.write(values.json ? `${JSON.stringify(r.result, null, 2)}\n` : renderExplanation(r.result));
  return 0;
}

/** Runs the command in `argv` (the arguments after `pilotfish`) and exits with its code. */
export function cli(argv: string[]): void {
  main(argv).then(
    (code) => { process.exitCode = code; if (code !== 0 || argv[0] === 'run') setImmediate(() => process.exit(code)); },
    (err: unknown) => { process.stderr.write(`pilotfish: ${(err as Error).stack ?? String(err)}\n`); process.exit(2); },
  );
}
