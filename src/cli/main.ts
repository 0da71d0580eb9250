#!/usr/bin/env node
/**
 * `pilotfish` — the command line (SPEC §2). Exit codes: 0 ok, 1 invalid policy / failed checks,
 * 2 usage errors.
 */
import { parseArgs } from 'node:util';
import { formatDiagnostic, loadPolicyFile, parseDuration } from '../config/index.js';
import { createLogger, type LogLevel } from '../log.js';
import { PolicyLoadError, Sidecar } from '../sidecar.js';
import { DEFAULT_ENGINE, ENGINES, isEngineKind } from '../proxy/engine.js';
import { Telemetry } from '../telemetry/index.js';
import { startEchoServer } from '../demo/echo-server.js';
import { injectCommand, iptablesCommand } from '../kube/index.js';
import { chaosCommand, CHAOS_USAGE } from '../chaos/index.js';
import { explainFile, renderExplanation } from '../explain/index.js';
import { parseLocality, type Locality } from '../routing/index.js';

const USAGE = `usage: pilotfish <command> [options]

commands:
  run [--policy FILE] [--fleet URL [--fleet-key K]] [--demo] [--log-level LEVEL] [--drain-timeout DURATION] [--no-access-log] [--engine ${ENGINES.join('|')}]
        run the sidecar (policy default: $PILOTFISH_POLICY or config/policy.yaml);
        --fleet joins fleet K (default "default") in that Redis ($PILOTFISH_FLEET, $PILOTFISH_FLEET_KEY):
        its published policy wins over the file, which is the bootstrap and the fallback;
        --demo also starts the demo echo upstreams v1 (127.0.0.1:9081) and v2 (:9082)
  validate FILE...
        check policy files; exit 1 listing every error as file:line:col key.path: message
  explain FILE --url URL [--method M] [-H 'name: value']... [--inbound] [--source-ip IP] [--locality REGION/ZONE] [--json]
        the routing decision for that request, sending nothing: routes considered and why, the
        winner, the split (locality tiers and shares), the sticky bucket and endpoint, the effective
        timeout/retry/fault/mirror/rate limit; --locality (default $PILOTFISH_LOCALITY) places the sidecar
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
  ${CHAOS_USAGE.replace('usage: pilotfish ', '')}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run': return run(rest);
    case 'validate': return validate(rest);
    case 'explain': return explain(rest);
    case 'inject': return injectCommand(rest);
    case 'chaos': return chaosCommand(rest);
    case 'iptables': return iptablesCommand(rest);
    // The fleet commands load the Redis client: only when one of them runs.
    case 'publish': return (await import('../fleet/commands/index.js')).publishCommand(rest);
    case 'rollback': return (await import('../fleet/commands/index.js')).rollbackCommand(rest);
    case 'fleet': return (await import('../fleet/commands/index.js')).fleetCommand(rest);
    case '-h': case '--help': case 'help': process.stdout.write(USAGE); return 0;
    default:
      process.stderr.write(command ? `pilotfish: unknown command "${command}"\n\n${USAGE}` : USAGE);
      return 2;
  }
}

async function validate(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length === 0) { process.stderr.write('pilotfish validate: no file given\n'); return 2; }
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
      locality: { type: 'string', default: process.env.PILOTFISH_LOCALITY ?? '' },
    },
  });
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
  const r = await explainFile(file, { url: values.url, method: values.method, headers, direction: values.inbound ? 'inbound' : 'outbound', sourceIp: values['source-ip'] }, place);
  if (!r.ok) { for (const e of r.errors) process.stderr.write(`${formatDiagnostic(e)}\n`); return 1; }
  process.stdout.write(values.json ? `${JSON.stringify(r.result, null, 2)}\n` : renderExplanation(r.result));
  return 0;
}

async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      policy: { type: 'string' },
      demo: { type: 'boolean', default: false },
      'log-level': { type: 'string', default: process.env.PILOTFISH_LOG_LEVEL ?? 'info' },
      'drain-timeout': { type: 'string', default: process.env.PILOTFISH_DRAIN_TIMEOUT ?? '20s' },
      'access-log': { type: 'boolean', default: process.env.PILOTFISH_ACCESS_LOG !== 'off' },
      engine: { type: 'string', default: process.env.PILOTFISH_ENGINE ?? DEFAULT_ENGINE },
      fleet: { type: 'string' },
      'fleet-key': { type: 'string' },
    },
    allowNegative: true,
  });
  const log = createLogger(values['log-level'] as LogLevel);
  const drainTimeoutMs = parseDuration(values['drain-timeout']);
  if (drainTimeoutMs === undefined) { process.stderr.write(`pilotfish run: invalid --drain-timeout ${values['drain-timeout']}\n`); return 2; }
  const engine = values.engine;
  if (!isEngineKind(engine)) { process.stderr.write(`pilotfish run: invalid --engine ${values.engine} (one of ${ENGINES.join(', ')})\n`); return 2; }
  const policyFile = values.policy ?? process.env.PILOTFISH_POLICY ?? 'config/policy.yaml';
  const locality = localityOption(process.env.PILOTFISH_LOCALITY ?? '', 'pilotfish run: PILOTFISH_LOCALITY');
  if (locality === false) return 2;
  if (values['fleet-key'] !== undefined && !values.fleet && !process.env.PILOTFISH_FLEET) { process.stderr.write('pilotfish run: --fleet-key needs --fleet URL\n'); return 2; }
  const fleetUrl = values.fleet ?? (process.env.PILOTFISH_FLEET || undefined);
  const fleetKey = values['fleet-key'] ?? (process.env.PILOTFISH_FLEET_KEY || 'default');
  const fleetUsage = fleetUrl === undefined ? undefined : await checkFleetArgs(fleetUrl, fleetKey);
  if (fleetUsage) { process.stderr.write(`pilotfish run: ${fleetUsage}\n`); return 2; }
  const demo = values.demo ? await Promise.all([startEchoServer('v1', 9081), startEchoServer('v2', 9082)]) : [];
  let sidecar: Sidecar;
  let telemetry: Telemetry | undefined;
  try {
    telemetry = await Telemetry.create({ log, accessLog: { enabled: values['access-log'] } });
    // The Redis client is loaded only with a fleet: a sidecar without one does not pay for it.
    const fleet = fleetUrl === undefined ? undefined
      : await (await import('../fleet/index.js')).openFleet({ url: fleetUrl, key: fleetKey, log, registry: telemetry.metrics.registry });
    sidecar = await Sidecar.start({ policyFile, log, drainTimeoutMs, engine, telemetry, locality, adminToken: process.env.PILOTFISH_ADMIN_TOKEN || undefined, ...(fleet ? { fleet } : {}) });
  } catch (err) {
    for (const s of demo) s.close();
    await telemetry?.shutdown();
    if (err instanceof PolicyLoadError) {
      for (const d of err.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
      log.fatal({ policy: policyFile, errors: err.diagnostics.length }, 'invalid policy, not starting');
      return 1;
    }
    log.fatal({ err }, 'could not start');
    return 1;
  }
  if (values.demo) {
    const p = sidecar.ports.outbound;
    process.stderr.write(`\npilotfish demo: try\n  curl -s -H 'host: echo' http://127.0.0.1:${p}/hello\n  for i in $(seq 20); do curl -s -H 'host: echo' http://127.0.0.1:${p}/; done | grep -o '"version":"v."' | sort | uniq -c\n  curl -s -H 'host: echo' -H 'x-canary: true' http://127.0.0.1:${p}/\n\n`);
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down');
      void sidecar.drain().then(async (clean) => {
        log.info({ clean }, 'drained');
        await sidecar.close();
        await telemetry?.shutdown();
        for (const s of demo) s.close();
        resolve(0);
      });
    };
    process.on('SIGHUP', () => void sidecar.reload('signal'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

/** `region/zone` from the environment or a flag: undefined when empty (or `/`), false (reported) when malformed. */
function localityOption(text: string, what: string): Locality | undefined | false {
  const r = parseLocality(text);
  if (r.ok) return r.locality;
  process.stderr.write(`${what}: ${r.error}\n`);
  return false;
}

/** A usage error for the fleet URL or key, or undefined (checked without loading the Redis client). */
async function checkFleetArgs(url: string, key: string): Promise<string | undefined> {
  const { parseFleetUrl } = await import('../fleet/url.js');
  const { checkFleetKey } = await import('../fleet/keys.js');
  try {
    parseFleetUrl(url);
  } catch (err) {
    return (err as Error).message;
  }
  return checkFleetKey(key);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; if (code !== 0 || process.argv[2] === 'run') setImmediate(() => process.exit(code)); },
  (err: unknown) => { process.stderr.write(`pilotfish: ${(err as Error).stack ?? String(err)}\n`); process.exit(2); },
);
