/**
 * Validation with memory: a policy is validated part by part — each top-level key, and within
 * `upstreams` and `routes` each upstream and each route — and a part whose source (its JSON text)
 * is the same as in the last policy validated here is not validated again: its validated value is
 * taken as it was. A fleet flip changes one route; the listeners, the upstreams and the other
 * routes cost one `JSON.stringify` each instead of a pass of the schema.
 *
 * A part's validated value depends on its source only (the one rule across parts, the inbound TLS
 * mode's default, is `finishPolicy`, applied to the whole every time), so a remembered part is
 * exactly what the schema would give. Values JSON cannot tell apart (`-0` and `0`) validate alike.
 *
 * Only success is remembered. Anything that does not validate gives `undefined`, and the caller
 * runs the whole schema, whose issues carry the paths the diagnostics (file:line:col) are made of.
 * The memory holds the parts of the last policy that validated, nothing older: it does not grow.
 * Unchanged parts are handed out as the same objects, so what is built from them can be reused too.
 */
import type { z } from 'zod';
import { finishPolicy, policyShape, routeSchema, upstreamEntrySchema, type Policy } from './schema.js';

type Shape = typeof policyShape;
type Parts = Map<string, unknown>;

/** A part that does not validate. */
const INVALID: unique symbol = Symbol('invalid');

export class PolicyMemory {
  private parts: Parts = new Map();

  /** `value` validated (with defaults filled in), or undefined when the whole schema must say why not. */
  check(value: unknown): Policy | undefined {
    if (!isRecord(value)) return undefined;
    for (const key of Object.keys(value)) if (!Object.hasOwn(policyShape, key)) return undefined;
    const next: Parts = new Map();
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(policyShape) as (keyof Shape)[]) {
      const source = value[key];
      let v: unknown;
      if (key === 'upstreams' && isRecord(source)) {
        const ups: Record<string, unknown> = {};
        for (const [name, up] of Object.entries(source)) {
          const u = this.part(next, `u:${name}:`, up, (x) => upstreamEntrySchema.safeParse({ [name]: x }), (d) => (d as Record<string, unknown>)[name]);
          if (u === INVALID) return undefined;
          ups[name] = u;
        }
        v = ups;
      } else if (key === 'routes' && Array.isArray(source)) {
        const routes: unknown[] = [];
        for (const r of source) {
          const route = this.part(next, 'r:', r, (x) => routeSchema.safeParse(x), (d) => d);
          if (route === INVALID) return undefined;
          routes.push(route);
        }
        v = routes;
      } else {
        const schema: z.ZodType = policyShape[key];
        v = this.part(next, `${key}:`, source, (x) => schema.safeParse(x), (d) => d);
        if (v === INVALID) return undefined;
        if (v === undefined) continue; // an optional key left out stays out, as the schema leaves it
      }
      out[key] = v;
    }
    this.parts = next;
    return finishPolicy(out as z.output<z.ZodObject<Shape>>);
  }

  /** One part: remembered, or validated now. */
  private part(next: Parts, prefix: string, source: unknown, validate: (x: unknown) => z.ZodSafeParseResult<unknown>, pick: (d: unknown) => unknown): unknown {
    const key = prefix + (source === undefined ? '' : JSON.stringify(source));
    if (next.has(key)) return next.get(key);
    let v: unknown;
    if (this.parts.has(key)) v = this.parts.get(key);
    else {
      const r = validate(source);
      if (!r.success) return INVALID;
      v = pick(r.data);
    }
    next.set(key, v);
    return v;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
