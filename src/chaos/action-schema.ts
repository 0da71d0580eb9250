/**
 * `inject:` and `rollback:` actions. Each item names exactly one action, with optional timing:
 * `at` (offset into the load; 0 = before the load starts) and `for` (undone after that long; otherwise
 * undone when the experiment ends, whatever its outcome).
 */
import { z } from 'zod';
import { duration, endpointRef, exactlyOne, percent } from './schema-primitives.js';

/** A runtime fault through the admin API (`POST /faults`), exactly the shape it accepts. */
const faultAction = z.strictObject({
  route: z.string().min(1).optional(),
  upstream: z.string().min(1).optional(),
  on: z.enum(['request', 'attempt']).default('request'),
  delay: z.strictObject({ fixed: duration, percent: percent.default(100) }).optional(),
  abort: z.strictObject({ status: z.number().int().min(200).max(599), percent: percent.default(100) }).optional(),
  /** The sidecar drops the fault by itself after this long, even if the runner dies. Default 60s. */
  ttl: duration.default(60_000),
}).superRefine((f, ctx) => {
  if (f.route === undefined && f.upstream === undefined) ctx.addIssue({ code: 'custom', message: 'a fault needs a route or an upstream', input: f });
  if (f.delay === undefined && f.abort === undefined) ctx.addIssue({ code: 'custom', message: 'a fault needs a delay or an abort', input: f });
});

const toxicCommon = {
  endpoint: endpointRef,
  /** `downstream`: upstream → sidecar bytes (answers); `upstream`: sidecar → upstream (requests). */
  stream: z.enum(['upstream', 'downstream']).default('downstream'),
  /** Chance the toxic applies to a given connection, percent. */
  toxicity: percent.default(100),
};

/** Network faults between the sidecar and one endpoint, Toxiproxy's toxics and attributes. */
const toxicAction = z.discriminatedUnion('type', [
  z.strictObject({ ...toxicCommon, type: z.literal('latency'), latency: duration, jitter: duration.default(0) }),
  /** KB/s (1 KB = 1024 bytes). */
  z.strictObject({ ...toxicCommon, type: z.literal('bandwidth'), rate: z.number().positive() }),
  z.strictObject({ ...toxicCommon, type: z.literal('slow_close'), delay: duration }),
  /** Data stops; closed after `timeout` (0: held until the toxic goes). */
  z.strictObject({ ...toxicCommon, type: z.literal('timeout'), timeout: duration.default(0) }),
  z.strictObject({ ...toxicCommon, type: z.literal('reset_peer'), timeout: duration.default(0) }),
  /** Bytes; `delay` between slices. */
  z.strictObject({ ...toxicCommon, type: z.literal('slicer'), averageSize: z.number().int().min(1), sizeVariation: z.number().int().min(0).default(0), delay: duration.default(0) }),
  z.strictObject({ ...toxicCommon, type: z.literal('limit_data'), bytes: z.number().int().min(0) }),
]);

const latencySchema = z.union([
  duration.transform((fixed) => ({ fixed })),
  z.strictObject({ fixed: duration }),
  z.strictObject({ min: duration, max: duration }),
  z.strictObject({ p50: duration, p99: duration }),
], { error: 'expected a duration, { fixed }, { min, max } or { p50, p99 }' });

export const errorsSchema = z.strictObject({ percent, status: z.number().int().min(400).max(599).default(503) });

/** Changes how fake endpoints answer (undone afterwards): a failing or slow upstream. */
const degradeAction = z.strictObject({
  endpoint: endpointRef,
  errors: errorsSchema.optional(),
  latency: latencySchema.optional(),
});

const policyAction = z.strictObject({
  /** Path, relative to the suite file. */
  file: z.string().min(1).optional(),
  inline: z.record(z.string(), z.unknown()).optional(),
  /** Storm: alternate this policy and the original every so often until the load ends (or `for`). */
  every: duration.optional(),
  /** How the sidecar learns: the file watcher, `POST /reload`, or SIGHUP. The file is rewritten in every case. */
  via: z.enum(['watch', 'admin', 'sighup']).default('watch'),
}).superRefine((p, ctx) => exactlyOne(p, ['file', 'inline'], ctx));

/** Publishes a policy to the environment's fleet as its next generation (undone by publishing the one before again). */
const publishAction = z.strictObject({
  /** Path, relative to the suite file. */
  file: z.string().min(1).optional(),
  inline: z.record(z.string(), z.unknown()).optional(),
  message: z.string().default(''),
}).superRefine((p, ctx) => exactlyOne(p, ['file', 'inline'], ctx));

/** `pilotfish rollback` on the environment's fleet: republishes generation `to`, else the one before the current. */
const rollbackAction = z.strictObject({
  to: z.number().int().min(1).optional(),
});

export const ACTION_KINDS = ['fault', 'toxic', 'kill', 'restart', 'degrade', 'policy', 'signal', 'wait', 'publish', 'rollback'] as const;

export const actionSchema = z.strictObject({
  at: duration.default(0),
  for: duration.optional(),
  fault: faultAction.optional(),
  toxic: toxicAction.optional(),
  kill: endpointRef.optional(),
  restart: endpointRef.optional(),
  degrade: degradeAction.optional(),
  policy: policyAction.optional(),
  /** Sent to the sidecar process; a sidecar that exits is started again when the experiment ends. */
  signal: z.enum(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGKILL']).optional(),
  wait: duration.optional(),
  publish: publishAction.optional(),
  rollback: rollbackAction.optional(),
}).superRefine((a, ctx) => exactlyOne(a, ACTION_KINDS, ctx, ACTION_KINDS.join(' | ')));

export type Action = z.output<typeof actionSchema>;
export type FaultAction = z.output<typeof faultAction>;
export type ToxicAction = z.output<typeof toxicAction>;
export type DegradeAction = z.output<typeof degradeAction>;
export type PolicyAction = z.output<typeof policyAction>;
export type PublishAction = z.output<typeof publishAction>;
export type RollbackAction = z.output<typeof rollbackAction>;
export type LatencySpec = z.output<typeof latencySchema>;
export type ErrorsSpec = z.output<typeof errorsSchema>;
export { latencySchema };
