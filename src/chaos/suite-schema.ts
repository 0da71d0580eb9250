/**
 * The chaos suite (SPEC §8) as zod types: strict everywhere (an unknown key is an error), durations
 * in ms, defaults filled in. Cross-references (endpoints naming fake upstreams, local-only actions in a
 * target environment, policy placeholders) are checked in `suite-refs.ts` with the whole suite in view.
 */
import { z } from 'zod';
import { actionSchema, errorsSchema, latencySchema } from './action-schema.js';
import { expectBlockSchema, expectSchema } from './expect-schema.js';
import { loadSchema, requestTemplateSchema } from './load-schema.js';
import { duration, exactlyOne, metricQuery, name } from './schema-primitives.js';

const fakeUpstreamSchema = z.strictObject({
  replicas: z.number().int().min(1).max(32).default(1),
  /** Labels of every replica; `${endpoints.NAME}` carries them into the policy. */
  labels: z.record(z.string(), z.string()).default({}),
  latency: latencySchema.optional(),
  errors: errorsSchema.optional(),
  /** Response body size, bytes. Default 64. */
  bodySize: z.number().int().min(0).max(16 * 1024 * 1024).default(64),
  /** Always answers 200 (no latency, no errors) unless the endpoint is killed: for active health checks. */
  healthPath: z.string().startsWith('/').default('/healthz'),
});

const localSchema = z.strictObject({
  upstreams: z.record(name, fakeUpstreamSchema).default({}),
  /** Inline policy; placeholders `${upstreams.NAME[i]}` (address) and `${endpoints.NAME}` (list). */
  policy: z.record(z.string(), z.unknown()).optional(),
  /** Policy file, relative to the suite, with the same placeholders. */
  policyFile: z.string().min(1).optional(),
  /**
   * Several sidecars on one fleet (SPEC §9): the runner starts a redis-server of its own, runs
   * `sidecars` sidecars with `--fleet`, publishes the policy as the fleet's first generation, and
   * spreads the load over all of them. Needs redis-server (the suite is skipped, with the reason, where
   * it is missing).
   */
  fleet: z.strictObject({
    sidecars: z.number().int().min(1).max(16).default(3),
    key: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'fleet keys are [A-Za-z0-9._-]').default('chaos'),
  }).optional(),
  sidecar: z.strictObject({
    drainTimeout: duration.optional(),
    /** How long `pilotfish run` may take to log `listening`. Default 15s. */
    startTimeout: duration.default(15_000),
    args: z.array(z.string()).default([]),
  }).prefault({}),
}).superRefine((l, ctx) => exactlyOne(l, ['policy', 'policyFile'], ctx));

const targetSchema = z.strictObject({
  /** The sidecar's outbound (or inbound) listener, e.g. through `kubectl port-forward`. */
  proxy: z.url({ protocol: /^http$/ }),
  admin: z.url({ protocol: /^http$/ }).optional(),
  /** Full URL of the Prometheus endpoint, e.g. http://127.0.0.1:15020/metrics. */
  metrics: z.url({ protocol: /^http$/ }).optional(),
  token: z.string().min(1).optional(),
});

const environmentSchema = z.strictObject({ local: localSchema.optional(), target: targetSchema.optional() })
  .superRefine((e, ctx) => exactlyOne(e, ['local', 'target'], ctx));

const statusTolerance = z.union([
  z.number().int(),
  z.array(z.number().int()).min(1),
  z.strictObject({ range: z.tuple([z.number(), z.number()]) }),
], { error: 'expected a number, a list of numbers, or { range: [min, max] }' });

/** Chaos Toolkit's shape: a probe, and the tolerance its result must fall within. */
const probeSchema = z.strictObject({
  name: z.string().min(1),
  /** One request through the sidecar; tolerance: the status. */
  http: requestTemplateSchema.omit({ weight: true }).optional(),
  /** One scrape; tolerance: the value. */
  metric: metricQuery.optional(),
  /** A short load; tolerance: an `expect` block. */
  load: loadSchema.optional(),
  tolerance: z.unknown(),
}).transform((p, ctx) => {
  exactlyOne(p, ['http', 'metric', 'load'], ctx);
  const schema = p.load !== undefined ? expectBlockSchema : statusTolerance;
  const r = schema.safeParse(p.tolerance);
  if (!r.success) {
    for (const issue of r.error.issues) ctx.addIssue({ ...issue, path: ['tolerance', ...issue.path] } as unknown as Parameters<typeof ctx.addIssue>[0]);
    return z.NEVER;
  }
  return { ...p, tolerance: r.data };
});

const experimentSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  inject: z.array(actionSchema).default([]),
  load: loadSchema.optional(),
  expect: expectSchema.default([]),
  /** Runs after the injections are undone, whatever happened. */
  rollback: z.array(actionSchema).default([]),
});

export const suiteSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  environment: environmentSchema,
  steadyState: z.strictObject({ title: z.string().min(1), probes: z.array(probeSchema).min(1) }).optional(),
  experiments: z.array(experimentSchema).min(1),
});

export type Suite = z.output<typeof suiteSchema>;
export type Experiment = Suite['experiments'][number];
export type Probe = z.output<typeof probeSchema>;
export type LocalEnvironmentSpec = z.output<typeof localSchema>;
export type TargetEnvironmentSpec = z.output<typeof targetSchema>;
export type FakeUpstreamSpec = z.output<typeof fakeUpstreamSchema>;
export type FleetSpec = NonNullable<LocalEnvironmentSpec['fleet']>;
