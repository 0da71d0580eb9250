/**
 * Runtime faults through the admin API: `GET /faults`, `POST /faults`, `DELETE /faults/{id}`. A fault
 * is scoped to a route, an upstream or both, applied `on: request` (default) or `on: attempt`, and
 * vanishes on its own after `ttl` — a chaos run that dies halfway leaves nothing behind.
 *
 * POST body: `{"route"?, "upstream"?, "on"?, "delay"?: {"fixed": duration, "percent"?: 0-100},
 * "abort"?: {"status": 200-599, "percent"?: 0-100}, "ttl": duration}` → 201 `{"id", "fault"}`.
 */
import { parseDuration } from '../config/index.js';
import type { RuntimeFaults } from '../resilience/index.js';
import type { AdminHandler } from './target.js';

export function faultRoutes(faults: RuntimeFaults): Array<[RegExp, { methods: Record<string, AdminHandler> }]> {
  return [
    [/^\/faults$/, { methods: {
      GET: () => ({ status: 200, body: { faults: faults.list() } }),
      POST: (_req, _m, body) => {
        let input: Record<string, unknown>;
        try {
          input = JSON.parse(body) as Record<string, unknown>;
          if (!input || typeof input !== 'object' || Array.isArray(input)) throw new Error('expected a JSON object');
        } catch (err) {
          return { status: 400, body: { error: `invalid JSON: ${(err as Error).message}` } };
        }
        const problem = checkKeys(input);
        if (problem) return { status: 400, body: { error: problem } };
        const ttl = parseDuration(input.ttl);
        if (ttl === undefined || ttl <= 0) return { status: 400, body: { error: 'ttl: expected a positive duration (e.g. 30s)' } };
        const delay = input.delay as { fixed?: unknown; percent?: unknown } | undefined;
        const fixed = delay ? parseDuration(delay.fixed) : undefined;
        if (delay && fixed === undefined) return { status: 400, body: { error: 'delay.fixed: expected a duration' } };
        const abort = input.abort as { status?: unknown; percent?: unknown } | undefined;
        try {
          const id = faults.add({
            ...(typeof input.route === 'string' ? { route: input.route } : {}),
            ...(typeof input.upstream === 'string' ? { upstream: input.upstream } : {}),
            ...(input.on === 'attempt' || input.on === 'request' ? { on: input.on } : {}),
            ...(delay ? { delay: { fixed: fixed!, percent: (delay.percent as number | undefined) ?? 100 } } : {}),
            ...(abort ? { abort: { status: abort.status as number, percent: (abort.percent as number | undefined) ?? 100 } } : {}),
            ttl,
          });
          return { status: 201, body: { id, fault: faults.get(id) } };
        } catch (err) {
          return { status: 400, body: { error: (err as Error).message } };
        }
      },
    } }],
    [/^\/faults\/([^/]+)$/, { methods: {
      DELETE: (_req, m) => (faults.remove(decodeURIComponent(m[1]!)) ? { status: 204 } : { status: 404, body: { error: 'no such fault' } }),
    } }],
  ];
}

const KEYS = new Set(['route', 'upstream', 'on', 'delay', 'abort', 'ttl']);

function checkKeys(input: Record<string, unknown>): string | undefined {
  for (const k of Object.keys(input)) if (!KEYS.has(k)) return `unknown key "${k}"`;
  if (input.on !== undefined && input.on !== 'request' && input.on !== 'attempt') return 'on: expected "request" or "attempt"';
  if (input.delay === undefined && input.abort === undefined) return 'a fault needs delay or abort';
  return undefined;
}
