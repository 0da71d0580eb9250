/**
 * `expect:` — the hypotheses an experiment checks. Sample-based ones look at the requests the load
 * sent (optionally only those scheduled inside `window`); metric ones scrape `/metrics`. `expect` may
 * be one block or a list, so "nothing failed overall" and "all on green one second after the flip"
 * sit side by side with different windows.
 */
import { z } from 'zod';
import { ACTION_KINDS } from './action-schema.js';
import { comparison, duration, metricExpr } from './schema-primitives.js';

const statusKey = z.string().regex(/^([1-5]\d\d|[1-5]xx|error)$/, 'status keys are a code (503), a class (5xx) or "error" (no answer)');
const latencyKey = z.string().regex(/^(p\d{1,2}(\.\d+)?|max|mean|min)$/, 'latency keys are p50, p99, p99.9, min, mean or max');
const flagKey = z.string().regex(/^([A-Z]{2,3}|none)$/, 'flag keys are response flags (UT, URX, …) or "none"');

export const expectBlockSchema = z.strictObject({
  /**
   * `sidecar`: in a fleet environment, the sample-based checks hold for each sidecar's own traffic
   * (one result per sidecar), not only for the traffic of all of them together.
   */
  each: z.enum(['sidecar']).optional(),
  /**
   * Only requests scheduled in [from, to) after the load began count for the sample-based checks.
   * Anchored to an injection of this experiment (its kind, e.g. `rollback`), the window follows the
   * injection's real time, causally: with `after`, requests *sent* in [from, to) after it completed;
   * with `before`, requests *answered* before it began. So "errors stop within 1 s of the rollback"
   * holds to the rollback's moment even when the load ran behind its timetable.
   */
  window: z.strictObject({
    from: duration.optional(),
    to: duration.optional(),
    after: z.enum(ACTION_KINDS).optional(),
    before: z.enum(ACTION_KINDS).optional(),
  }).optional(),
  /** Requests sent (in the window). */
  requests: comparison('count').optional(),
  /** Share of requests answered 2xx or 3xx. */
  successRate: comparison('percent').optional(),
  status: z.record(statusKey, comparison('percent', 'count')).optional(),
  latency: z.record(latencyKey, comparison('ms')).optional(),
  /** Share of upstream answers per instance, per fake upstream (`group`) or per label (`version`). */
  share: z.strictObject({
    by: z.string().min(1).default('instance'),
    values: z.record(z.string(), comparison('percent', 'count')),
  }).optional(),
  /** Responses carrying each `x-pilotfish-flags` flag. */
  flags: z.record(flagKey, comparison('percent', 'count')).optional(),
  metrics: z.array(metricExpr).optional(),
  /** The sidecar process exits with this code within the time (after a `signal` injection). */
  sidecarExit: z.strictObject({ code: z.number().int(), within: duration.default(10_000) }).optional(),
});

export const expectSchema = z.union([z.array(expectBlockSchema), expectBlockSchema])
  .transform((e) => (Array.isArray(e) ? e : [e]));

export type ExpectBlock = z.output<typeof expectBlockSchema>;
