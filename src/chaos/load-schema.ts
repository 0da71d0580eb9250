/**
 * `load:` — the traffic an experiment drives through the sidecar: request templates, and either a
 * constant `rate` (open-loop: sends follow a timetable whatever the answers do) or a `concurrency`
 * (closed-loop: that many requests always in flight), for a `duration`, a `count`, or whichever ends first.
 */
import { z } from 'zod';
import { duration, exactlyOne } from './schema-primitives.js';

export const requestTemplateSchema = z.strictObject({
  method: z.string().min(1).transform((m) => m.toUpperCase()).default('GET'),
  path: z.string().startsWith('/').default('/'),
  /** Host header (routes match on it); default: the proxy URL's host. */
  host: z.string().min(1).optional(),
  /** `${seq}` becomes the request's sequence number, `${rand:N}` a random integer below N. */
  headers: z.record(z.string(), z.string()).default({}),
  body: z.string().optional(),
  /** Relative frequency among the templates. */
  weight: z.number().int().min(1).default(1),
});

export const loadSchema = z.strictObject({
  request: requestTemplateSchema.optional(),
  requests: z.array(requestTemplateSchema).min(1).optional(),
  /** Requests per second, sent on a fixed timetable. */
  rate: z.number().positive().max(20_000).optional(),
  /** Requests kept in flight. */
  concurrency: z.number().int().min(1).max(1024).optional(),
  duration: duration.optional(),
  count: z.number().int().min(1).optional(),
  /** Client-side limit per request; a request still unanswered is recorded as an error. Default 10s. */
  timeout: duration.default(10_000),
}).superRefine((load, ctx) => {
  exactlyOne(load, ['request', 'requests'], ctx);
  exactlyOne(load, ['rate', 'concurrency'], ctx);
  if (load.duration === undefined && load.count === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration, a count, or both', input: load });
  }
}).transform(({ request, requests, ...rest }) => ({ ...rest, requests: requests ?? (request ? [request] : []) }));

export type RequestTemplate = z.output<typeof requestTemplateSchema>;
export type LoadSpec = z.output<typeof loadSchema>;
