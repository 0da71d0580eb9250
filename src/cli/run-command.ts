/**
 * `pilotfish run`: the sidecar process. It loads what the sidecar needs and no more — the chosen
 * forwarding engine only (engine.ts), tracing only when an OTLP endpoint is set (telemetry), the
 * Redis client only with a fleet, the demo upstreams only with `--demo`.
 */
import type http from 'node:http';
import { parseArgs } from 'node:util';
import { formatDiagnostic, parseDuration } from '../config/index.js';
import { createLogger, type LogLevel } from '../log.js';
import { PolicyLoadError, Sidecar } from '../sidecar.js';
import { DEFAULT_ENGINE, ENGINES, isEngineKind } from '../proxy/engine.js';
import { Telemetry } from '../telemetry/index.js';
import { localityOption } from './locality-option.js';

export async function runCommand(args: string[]): Promise<number> {
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
  const demo = values.demo ? await startDemo() : [];
  // The handlers go in before the start, so a SIGTERM that comes while it runs (or just after
  // `listening` is logged) is held and acted on as soon as there is a sidecar to drain, rather than
  // killing the process with no drain; a SIGHUP then has nothing to reload (the start reads the file).
  const held: string[] = [];
  let onSignal = (signal: string): void => { if (signal !== 'SIGHUP') held.push(signal); };
  const signalled = (signal: string) => (): void => onSignal(signal);
  const handlers = { SIGHUP: signalled('SIGHUP'), SIGTERM: signalled('SIGTERM'), SIGINT: signalled('SIGINT') } as const;
  for (const [signal, handler] of Object.entries(handlers)) process.on(signal, handler);
  let sidecar: Sidecar;
  let telemetry: Telemetry | undefined;
  try {
    // Node's process metrics are registered once the sidecar listens (below): not on the way to ready.
    telemetry = await Telemetry.create({ log, accessLog: { enabled: values['access-log'] }, metrics: { processMetrics: 'later' } });
    // The Redis client is loaded only with a fleet: a sidecar without one does not pay for it.
    const fleet = fleetUrl === undefined ? undefined
      : await (await import('../fleet/index.js')).openFleet({ url: fleetUrl, key: fleetKey, log, registry: telemetry.metrics.registry });
    sidecar = await Sidecar.start({ policyFile, log, drainTimeoutMs, engine, telemetry, locality, adminToken: process.env.PILOTFISH_ADMIN_TOKEN || undefined, ...(fleet ? { fleet } : {}) });
    telemetry.metrics.collectProcessMetrics();
  } catch (err) {
    for (const [signal, handler] of Object.entries(handlers)) process.off(signal, handler);
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
    onSignal = (signal) => { if (signal === 'SIGHUP') void sidecar.reload('signal'); else stop(signal); };
    if (held.length > 0) stop(held[0]!);
  });
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

async function startDemo(): Promise<http.Server[]> {
  const { startEchoServer } = await import('../demo/echo-server.js');
  return Promise.all([startEchoServer('v1', 9081), startEchoServer('v2', 9082)]);
}
