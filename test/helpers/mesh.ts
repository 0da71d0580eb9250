/**
 * Sidecars of a mesh for the mutual-TLS tests (SPEC §12): real in-process sidecars whose access and
 * operational logs are collected, and the policies of the two ends of a call — B's inbound in front
 * of an app, A's outbound to B's inbound port.
 */
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Sidecar } from '../../src/sidecar.js';
import { Telemetry } from '../../src/telemetry/index.js';
import { TEST_ENGINE, testListeners, writePolicy } from './sidecar.js';
import type { Upstream } from './upstream.js';

export interface MeshSidecar {
  readonly sidecar: Sidecar;
  readonly telemetry: Telemetry;
  /** Access-log lines, parsed. */
  readonly access: Array<Record<string, unknown>>;
  /** Operational log lines, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  /** A metric's value from the sidecar's registry (the first series whose labels include `labels`). */
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
}

/** A real sidecar in this process, its access and operational logs collected; `cleanup` gets its close. */
export async function meshSidecar(policy: string, cleanup: Array<() => Promise<void> | void>): Promise<MeshSidecar> {
  const access: Array<Record<string, unknown>> = [];
  const logs: Array<Record<string, unknown>> = [];
  const lines = (into: Array<Record<string, unknown>>) => new Writable({
    write(chunk: Buffer, _enc, cb) { for (const l of chunk.toString().split('\n')) if (l) into.push(JSON.parse(l) as Record<string, unknown>); cb(); },
  });
  const telemetry = await Telemetry.create({ accessLog: { destination: lines(access) as unknown as NodeJS.WritableStream & { write(s: string): boolean } } });
  const sidecar = await Sidecar.start({ policyFile: await writePolicy(policy), log: pino({ level: 'info' }, lines(logs)), engine: TEST_ENGINE, telemetry });
  cleanup.push(async () => { await sidecar.close(); await telemetry.shutdown(); });
  return {
    sidecar, telemetry, access, logs,
    async metric(name, labels = {}) {
      const text = await telemetry.metrics.registry.metrics();
      for (const line of text.split('\n')) {
        if (!line.startsWith(name) || line[name.length] !== '{' && line[name.length] !== ' ') continue;
        if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return undefined;
    },
  };
}

/** The policy's `identity` block for a certificate directory in cert-manager's layout. */
export const identityBlock = (dir: string): string =>
  `identity: { certFile: ${path.join(dir, 'tls.crt')}, keyFile: ${path.join(dir, 'tls.key')}, caFile: ${path.join(dir, 'ca.crt')} }\n`;

/** B: an inbound sidecar in front of `app`, with `mode` and `extra` policy (authorization, …). */
export function inboundPolicy(app: Upstream, certDir: string, mode: string, extra = ''): string {
  return `version: 1\n${testListeners(`http://${app.address}`).replace('inbound: { port: 0, address: 127.0.0.1,', `inbound: { port: 0, address: 127.0.0.1, tls: { mode: ${mode} },`)}${identityBlock(certDir)}${extra}`;
}

/** A: an outbound sidecar whose upstream `reviews` is B's inbound port, with `tls`. */
export function outboundPolicy(certDir: string, port: number, tlsBlock: string): string {
  return `version: 1\n${testListeners()}${identityBlock(certDir)}upstreams:\n  reviews: { endpoints: [{ address: "127.0.0.1:${port}" }], tls: ${tlsBlock} }\nroutes:\n  - { name: to-reviews, match: { host: reviews }, to: [{ upstream: reviews }] }\n`;
}
