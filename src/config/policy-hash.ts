/**
 * The content hash of a resolved policy (the snapshot's `hash`, shown by `/config_dump`): SHA-256 of
 * its canonical JSON — keys sorted, `undefined` left out, arrays in order. It names what the policy
 * means, not how the file spells it: comments, key order, YAML or JSON, a default written out or
 * left implicit, `1s` or `1000` — all hash alike, so the policy `/config_dump` shows loads again to
 * the same hash.
 */
import { createHash } from 'node:crypto';
import type { Policy } from './schema.js';

export function policyHash(policy: Policy): string {
  return createHash('sha256').update(canonicalJson(policy)).digest('hex');
}

/**
 * The hash of a policy's text as served (sha256, hex): what a fleet generation carries, what a
 * sidecar's fleet report and `/config_dump.textHash` name, and what tells a reload that nothing changed.
 */
export function textHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** JSON with every object's keys sorted (JSON.stringify's treatment of values otherwise). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.keys(value).sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}
