/**
 * Policy placeholders: a suite's policy names fake endpoints before they exist, and the runner fills
 * in where they ended up — the address of the toxic proxy in front of each one, so network faults sit
 * between the sidecar and the endpoint.
 *   `${upstreams.reviews[0]}` → `127.0.0.1:41234` (one replica's address)
 *   `${endpoints.reviews}`    → `[{ address, labels }, …]` (every replica, for `endpoints:`)
 * In an inline policy, a list item that is exactly `${endpoints.X}` is spliced in, so one upstream
 * can gather several fake upstreams: `endpoints: ["${endpoints.zone-a}", "${endpoints.zone-b}"]`.
 */
import type { KeyPath } from '../config/positions.js';

export interface EndpointInfo {
  readonly address: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Fake upstream name → its replicas, in order. */
export type EndpointTable = Readonly<Record<string, readonly EndpointInfo[]>>;

const PLACEHOLDER = /\$\{(upstreams|endpoints)\.([A-Za-z0-9][A-Za-z0-9_.-]*?)(?:\[(\d+)\])?\}/g;
const WHOLE_ENDPOINTS = /^\$\{endpoints\.([A-Za-z0-9][A-Za-z0-9_.-]*)\}$/;

export interface PlaceholderProblem {
  readonly path: KeyPath;
  readonly message: string;
}

/** Every placeholder in a text, with what is wrong with it (unknown upstream, index out of range, …). */
export function checkPlaceholders(text: string, replicas: Readonly<Record<string, number>>): string[] {
  const problems: string[] = [];
  for (const m of text.matchAll(PLACEHOLDER)) {
    const [whole, kind, upstream, index] = m;
    const count = replicas[upstream!];
    if (count === undefined) problems.push(`${whole}: no fake upstream "${upstream}" in environment.local.upstreams`);
    else if (kind === 'upstreams' && index === undefined) problems.push(`${whole}: name a replica, e.g. \${upstreams.${upstream}[0]}`);
    else if (kind === 'endpoints' && index !== undefined) problems.push(`${whole}: \${endpoints.${upstream}} stands for every replica; use \${upstreams.${upstream}[${index}]} for one`);
    else if (index !== undefined && Number(index) >= count) problems.push(`${whole}: "${upstream}" has ${count} replica(s), indexes 0–${count - 1}`);
  }
  return problems;
}

/** Walks a parsed value, reporting placeholder problems with the key path of the string holding them. */
export function checkPlaceholdersIn(value: unknown, replicas: Readonly<Record<string, number>>, path: KeyPath = []): PlaceholderProblem[] {
  if (typeof value === 'string') return checkPlaceholders(value, replicas).map((message) => ({ path, message }));
  if (Array.isArray(value)) return value.flatMap((v, i) => checkPlaceholdersIn(v, replicas, [...path, i]));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => checkPlaceholdersIn(v, replicas, [...path, k]));
  }
  return [];
}

/**
 * Fills placeholders in a parsed policy: a string that is exactly `${endpoints.X}` becomes the list,
 * and as an item of a list its replicas are spliced into that list.
 */
export function fillPlaceholders(value: unknown, table: EndpointTable): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE_ENDPOINTS.exec(value);
    if (whole) return endpointList(table, whole[1]!);
    return fillText(value, table, 'plain');
  }
  if (Array.isArray(value)) {
    return value.flatMap((v) => {
      const whole = typeof v === 'string' ? WHOLE_ENDPOINTS.exec(v) : null;
      return whole ? endpointList(table, whole[1]!) : [fillPlaceholders(v, table)];
    });
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillPlaceholders(v, table)]));
  }
  return value;
}

/**
 * Fills placeholders in policy text (a file). `${endpoints.X}` becomes a JSON flow sequence, valid
 * YAML wherever a value may stand. Lines do not move, so positions in the file stay meaningful.
 */
export function fillText(text: string, table: EndpointTable, style: 'yaml' | 'plain' = 'yaml'): string {
  return text.replace(PLACEHOLDER, (whole, kind: string, upstream: string, index: string | undefined) => {
    const replicas = table[upstream];
    if (!replicas) return whole;
    if (kind === 'endpoints') return style === 'yaml' ? JSON.stringify(endpointList(table, upstream)) : whole;
    return replicas[Number(index)]?.address ?? whole;
  });
}

function endpointList(table: EndpointTable, upstream: string): Array<{ address: string; labels: Record<string, string> }> {
  return (table[upstream] ?? []).map((e) => ({ address: e.address, labels: { ...e.labels } }));
}

/** A table of unreachable addresses with the right shape, to validate a policy before anything starts. */
export function dummyTable(upstreams: Readonly<Record<string, { replicas: number; labels: Readonly<Record<string, string>> }>>): EndpointTable {
  return Object.fromEntries(Object.entries(upstreams).map(([name, u]) => [
    name, Array.from({ length: u.replicas }, () => ({ address: '127.0.0.1:1', labels: u.labels })),
  ]));
}
