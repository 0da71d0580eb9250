/**
 * Property tests of the policy loader (issue 13.5), seeded and bounded (`budget.ts`):
 *
 * - random text, and valid policies mutated as text (bytes deleted, inserted, lines duplicated,
 *   swapped, re-indented, cut) or as structure (a value replaced by any JSON, a key deleted, renamed
 *   or added), written as YAML or JSON: the loader never throws, it answers ok or with errors;
 * - every diagnostic's line:col lies inside the file, and inside the key or value its path names
 *   (its deepest part that exists); an unknown key's points at that key;
 * - a valid policy, dumped as `/config_dump` shows it, loads again to the same snapshot hash — for
 *   the seed policies and for random valid policies built from every part of the schema.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMap, isPair, isScalar, isSeq, parseDocument, stringify, type Node } from 'yaml';
import { parsePolicy, policyHash, type Diagnostic } from '../../src/config/index.js';
import { budget, timeoutFor } from './budget.js';

const SEED_DIR = path.join(import.meta.dirname, 'seeds');
const SEEDS = new Map(readdirSync(SEED_DIR).sort().map((name) => {
  const text = readFileSync(path.join(SEED_DIR, name), 'utf8');
  return [name, { name, text, value: parseDocument(text).toJS() as unknown }] as const;
}));
/** A seed policy, by name (so a counterexample prints a name, not the whole file). */
const seedName = fc.constantFrom(...SEEDS.keys());
const seedOf = (name: string): { name: string; text: string; value: unknown } => SEEDS.get(name)!;

/** The loader's answer, with the file's text; throws (failing the property) only if the loader did. */
function load(text: string): ReturnType<typeof parsePolicy> {
  return parsePolicy(text, 'fuzz.yaml');
}

/** Offset in `text` of a 1-based line and column, line breaks as YAML has them (\n, \r\n, \r). */
function offsetOf(text: string, line: number, col: number): number {
  let start = 0;
  for (let l = 1; l < line; l++) {
    const m = /\r\n|\r|\n/g;
    m.lastIndex = start;
    const found = m.exec(text);
    if (!found) break;
    start = found.index + found[0].length;
  }
  return start + col - 1;
}

const EMPTY_KEY = '\u0000(empty key)';

/**
 * The span [start, end] of the deepest node the formatted path `routes[0].match.colour` reaches in
 * the document (keys may contain dots: at each map the longest key that fits is taken), and the
 * key's own start when the whole path was a map key.
 */
function spanOf(doc: ReturnType<typeof parseDocument>, text: string, formatted: string): { span: [number, number]; keyStart: number | undefined } {
  const root = doc.contents as Node | null;
  let span: [number, number] = [0, text.length];
  if (root?.range) span = [root.range[0], root.range[2]];
  let node: unknown = root;
  let rest = formatted === '(root)' ? '' : formatted;
  let keyStart: number | undefined;
  while (rest.length > 0) {
    keyStart = undefined;
    const index = /^\[(\d+)\]\.?/.exec(rest);
    if (index && isSeq(node)) {
      const item = node.items[Number(index[1])] as Node | undefined;
      if (!item?.range) break;
      span = [item.range[0], item.range[2]];
      node = item;
      rest = rest.slice(index[0].length);
      continue;
    }
    if (!isMap(node)) break;
    let best: { pair: unknown; key: string } | undefined;
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      if (rest === EMPTY_KEY) { if (key === '') best = { pair, key: EMPTY_KEY }; continue; }
      const fits = rest === key || rest.startsWith(`${key}.`) || rest.startsWith(`${key}[`);
      if (fits && (!best || key.length > best.key.length)) best = { pair, key };
    }
    if (!best || !isPair(best.pair)) break;
    const k = best.pair.key as Node | null;
    const v = best.pair.value as Node | null;
    const start = k?.range?.[0] ?? v?.range?.[0];
    const end = v?.range?.[2] ?? k?.range?.[2];
    if (start === undefined || end === undefined) break;
    span = [start, end];
    keyStart = k?.range?.[0];
    node = v;
    rest = rest.slice(best.key.length);
    if (rest === '.') rest = EMPTY_KEY; // the path ends in an empty key: `listeners.` names listeners['']
    else rest = rest.replace(/^\./, '');
  }
  return { span, keyStart: rest.length === 0 ? keyStart : undefined };
}

/** Every diagnostic lies in the file and inside what its path names; an unknown key's at the key. */
function checkDiagnostics(text: string, diagnostics: readonly Diagnostic[]): void {
  const lines = text.split(/\r\n|\r|\n/);
  const doc = parseDocument(text, { uniqueKeys: false });
  for (const d of diagnostics) {
    const where = `${d.line}:${d.col} ${d.path}: ${d.message}`;
    expect(d.line, where).toBeGreaterThanOrEqual(1);
    expect(d.line, where).toBeLessThanOrEqual(lines.length);
    expect(d.col, where).toBeGreaterThanOrEqual(1);
    expect(d.col, where).toBeLessThanOrEqual((lines[d.line - 1]?.length ?? 0) + 1);
    if (d.path.startsWith('(')) continue; // (syntax), (root), (file): a place, not a key
    const offset = offsetOf(text, d.line, d.col);
    const { span, keyStart } = spanOf(doc, text, d.path);
    expect(offset, `${where} outside [${span[0]}, ${span[1]}]`).toBeGreaterThanOrEqual(span[0]);
    expect(offset, `${where} outside [${span[0]}, ${span[1]}]`).toBeLessThanOrEqual(span[1]);
    const unknown = /^unknown key "(.*)"$/.exec(d.message);
    if (unknown && keyStart !== undefined) expect(offset, `${where}: not at the key`).toBe(keyStart);
  }
}

/** A valid policy, dumped as /config_dump shows it (JSON of the resolved policy), loads to the same hash. */
function checkRoundTrip(text: string): boolean {
  const first = load(text);
  if (!first.ok) return false;
  const dumped = JSON.stringify(first.policy, null, 2);
  const again = load(dumped);
  if (!again.ok) throw new Error(`the dumped policy does not load: ${again.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}\n${dumped}`);
  expect(policyHash(again.policy)).toBe(policyHash(first.policy));
  expect(again.policy).toEqual(first.policy);
  return true;
}

// ---- mutations ----

const YAML_BITS = [':', ' ', '\n', '  ', '- ', '{', '}', '[', ']', ',', '"', "'", '#', '&a', '*a', '!!str ', '|', '>', '%', '@', '`', '\t', '?', '~', 'null', 'true', '0', '-1', '1e999', '.nan', '0x1F', 'ms', 'version', 'routes', '<<: ', '\u0000', 'é', '\u2028'];
const yamlNoise = fc.array(fc.oneof(fc.constantFrom(...YAML_BITS), fc.string({ maxLength: 4 })), { maxLength: 6 }).map((parts) => parts.join(''));

type TextMutation =
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'dup' | 'drop'; line: number }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'indent'; line: number; delta: number }
  | { kind: 'cut'; at: number };

const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 24 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: yamlNoise }),
  fc.record({ kind: fc.constantFrom('dup' as const, 'drop' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('indent' as const), line: fc.nat(), delta: fc.integer({ min: -4, max: 4 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
);

function mutateText(text: string, m: TextMutation): string {
  const lines = text.split('\n');
  const li = (n: number): number => n % Math.max(1, lines.length);
  switch (m.kind) {
    case 'delete': { const at = m.at % (text.length + 1); return text.slice(0, at) + text.slice(at + m.len); }
    case 'insert': { const at = m.at % (text.length + 1); return text.slice(0, at) + m.text + text.slice(at); }
    case 'dup': lines.splice(li(m.line), 0, lines[li(m.line)] ?? ''); return lines.join('\n');
    case 'drop': lines.splice(li(m.line), 1); return lines.join('\n');
    case 'swap': { const a = li(m.a); const b = li(m.b); [lines[a], lines[b]] = [lines[b]!, lines[a]!]; return lines.join('\n'); }
    case 'indent': {
      const i = li(m.line);
      const l = lines[i] ?? '';
      lines[i] = m.delta >= 0 ? ' '.repeat(m.delta) + l : l.replace(new RegExp(`^ {0,${-m.delta}}`), '');
      return lines.join('\n');
    }
    case 'cut': return text.slice(0, m.at % (text.length + 1));
  }
}

type Path = Array<string | number>;

function pathsOf(value: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...at, i], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) pathsOf(v, [...at, k], out);
  return out;
}

type StructMutation =
  | { kind: 'set'; pick: number; value: unknown }
  | { kind: 'delete'; pick: number }
  | { kind: 'rename' | 'add'; pick: number; key: string; value: unknown };

const keyName = fc.oneof(fc.constantFrom('name', 'to', 'match', 'retries', 'timeout', 'weight', 'colour', 'endpoints', 'budget', 'percent', '__proto__', 'constructor', ''), fc.string({ maxLength: 8 }));
const structMutation: fc.Arbitrary<StructMutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), pick: fc.nat(), value: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constantFrom('rename' as const, 'add' as const), pick: fc.nat(), key: keyName, value: fc.jsonValue({ maxDepth: 1 }) }),
);

function mutateStruct(root: unknown, m: StructMutation): unknown {
  const copy = structuredClone(root);
  const paths = pathsOf(copy);
  const target = paths[m.pick % paths.length]!;
  if (target.length === 0) return m.kind === 'set' ? m.value : copy;
  let parent: any = copy;
  for (const seg of target.slice(0, -1)) parent = parent[seg];
  const last = target[target.length - 1]!;
  if (m.kind === 'set') parent[last] = m.value;
  else if (m.kind === 'delete') { if (Array.isArray(parent)) parent.splice(Number(last), 1); else delete parent[last]; }
  else if (m.kind === 'add') { const host = parent[last]; if (host && typeof host === 'object' && !Array.isArray(host)) Object.defineProperty(host, m.key, { value: m.value, enumerable: true, configurable: true, writable: true }); }
  else if (!Array.isArray(parent)) { const v = parent[last]; delete parent[last]; Object.defineProperty(parent, m.key, { value: v, enumerable: true, configurable: true, writable: true }); }
  return copy;
}

const style = fc.constantFrom('yaml-block', 'yaml-flow', 'json', 'json-pretty');
function write(value: unknown, how: string): string {
  if (how === 'json') return JSON.stringify(value) ?? 'null';
  if (how === 'json-pretty') return JSON.stringify(value, null, 2) ?? 'null';
  return stringify(value, how === 'yaml-flow' ? { collectionStyle: 'flow' } : {});
}

// ---- random valid policies, from every part of the schema ----

const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,7}$/);
const durationText = fc.oneof(fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 1, max: 900 }).map((n) => `${n}ms`), fc.integer({ min: 1, max: 59 }).map((n) => `${n}s`), fc.constantFrom('1.5s', '2m', '1h'));
const pct = fc.oneof(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 100, noNaN: true }));
const strMatch = fc.oneof(
  fc.record({ exact: fc.string({ maxLength: 6 }) }), fc.record({ prefix: fc.string({ maxLength: 6 }) }),
  fc.record({ regex: fc.constantFrom('a+', '[0-9]{2,4}', 'v(1|2)') }), fc.record({ present: fc.boolean() }),
);
const optional = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined });

function validPolicy(): fc.Arbitrary<unknown> {
  const upstream = fc.record({
    endpoints: fc.array(fc.record({ address: fc.integer({ min: 1, max: 65535 }).map((p) => `127.0.0.1:${p}`), labels: optional(fc.dictionary(name, name, { maxKeys: 2 })) }, { requiredKeys: ['address'] }), { minLength: 1, maxLength: 3 }),
    loadBalancer: optional(fc.constantFrom('round-robin', 'random', 'least-request', 'ewma', 'ring-hash', 'maglev')),
    connectionPool: optional(fc.record({ maxConnections: fc.integer({ min: 1, max: 5000 }), connectTimeout: durationText }, { requiredKeys: [] })),
    healthCheck: optional(fc.record({ path: fc.constantFrom('/healthz', '/ready'), interval: durationText }, { requiredKeys: ['path'] })),
    outlierDetection: optional(fc.record({ consecutive5xx: fc.integer({ min: 1, max: 10 }), maxEjectionPercent: pct }, { requiredKeys: [] })),
    circuitBreaker: optional(fc.record({ errorThresholdPercentage: pct, volumeThreshold: fc.integer({ min: 0, max: 50 }) }, { requiredKeys: [] })),
  }, { requiredKeys: ['endpoints'] });
  return fc.dictionary(name, upstream, { minKeys: 1, maxKeys: 3 }).chain((upstreams) => {
    const names = Object.keys(upstreams);
    const route = fc.record({
      match: optional(fc.record({
        host: optional(fc.oneof(name, name.map((n) => `*.${n}`))),
        path: optional(fc.oneof(fc.record({ exact: name.map((n) => `/${n}`) }), fc.record({ prefix: name.map((n) => `/${n}`) }), fc.record({ regex: fc.constantFrom('/a/[0-9]+', '/(x|y)') }))),
        method: optional(fc.uniqueArray(fc.constantFrom('get', 'POST', 'Put', 'DELETE'), { minLength: 1, maxLength: 3 })),
        headers: optional(fc.dictionary(name, strMatch, { maxKeys: 2 })),
        query: optional(fc.dictionary(name, strMatch, { maxKeys: 1 })),
      }, { requiredKeys: [] })),
      priority: optional(fc.integer({ min: -5, max: 5 })),
      to: fc.constantFrom(...names).map((u) => [{ upstream: u }]),
      sticky: optional(fc.oneof(fc.record({ header: name }), fc.record({ cookie: fc.record({ name, ttl: durationText }, { requiredKeys: ['name'] }) }), fc.constant({ sourceIp: true }))),
      timeout: optional(durationText),
      retries: optional(fc.record({
        attempts: fc.integer({ min: 0, max: 5 }), perTryTimeout: optional(durationText),
        retryOn: optional(fc.uniqueArray(fc.constantFrom('5xx', 'gateway-error', 'reset', 'connect-failure', 'retriable-4xx', 429, 503), { maxLength: 4 })),
        backoff: optional(fc.record({ base: durationText, max: durationText }, { requiredKeys: [] })),
        budget: optional(fc.record({ percent: pct, minPerSecond: fc.integer({ min: 0, max: 100 }) }, { requiredKeys: [] })),
        nonIdempotent: optional(fc.boolean()),
      }, { requiredKeys: ['attempts'] })),
      mirror: optional(fc.record({ upstream: fc.constantFrom(...names), percent: pct, compare: fc.boolean() }, { requiredKeys: ['upstream'] })),
      fault: optional(fc.record({
        delay: optional(fc.record({ fixed: durationText, percent: pct }, { requiredKeys: ['fixed'] })),
        abort: optional(fc.record({ status: fc.integer({ min: 200, max: 599 }), percent: pct }, { requiredKeys: ['status'] })),
        on: optional(fc.constantFrom('request', 'attempt')),
      }, { requiredKeys: [] })),
      rewrite: optional(fc.record({ prefix: name.map((n) => `/${n}`), host: name }, { requiredKeys: [] })),
      headers: optional(fc.record({ request: fc.record({ set: fc.dictionary(name, fc.string({ maxLength: 5 }), { maxKeys: 2 }), remove: fc.array(name, { maxLength: 2 }) }, { requiredKeys: [] }) }, { requiredKeys: [] })),
    }, { requiredKeys: ['to'] });
    return fc.record({
      version: fc.constant(1),
      listeners: optional(fc.record({ outbound: fc.record({ port: fc.integer({ min: 0, max: 65535 }), headersTimeout: durationText, maxConnections: fc.integer({ min: 1, max: 10 ** 6 }) }, { requiredKeys: [] }) }, { requiredKeys: [] })),
      overload: optional(fc.record({ shedAbove: fc.integer({ min: 51, max: 100 }), resumeBelow: fc.integer({ min: 0, max: 50 }), interval: fc.oneof(fc.integer({ min: 10, max: 5000 }), fc.constantFrom('250ms', '1s')) }, { requiredKeys: ['shedAbove', 'resumeBelow'] })),
      outboundTrafficPolicy: optional(fc.constantFrom('registry-only', 'allow-any')),
      upstreams: fc.constant(upstreams),
      routes: fc.array(route, { maxLength: 4 }).map((rs) => rs.map((r, i) => ({ name: `route-${i}`, ...r }))),
    }, { requiredKeys: ['version', 'upstreams', 'routes'] });
  }).map((p) => JSON.parse(JSON.stringify(p)) as unknown); // drop the undefined the optional parts left
}

describe('policy loader properties', () => {
  it('random text never throws past the loader; every diagnostic lies inside the file', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 200 }), yamlNoise, fc.jsonValue().map((v) => JSON.stringify(v) ?? '')), (text) => {
      const r = load(text);
      if (!r.ok) expect(r.errors.length).toBeGreaterThan(0);
      checkDiagnostics(text, r.ok ? r.warnings : [...r.errors, ...r.warnings]);
    }), budget(400));
  });

  it('valid policies mutated as text: no throw, every diagnostic inside what its path names', () => {
    fc.assert(fc.property(seedName, fc.array(textMutation, { minLength: 1, maxLength: 4 }), (seed, mutations) => {
      const text = mutations.reduce(mutateText, seedOf(seed).text);
      const r = load(text);
      checkDiagnostics(text, r.ok ? r.warnings : [...r.errors, ...r.warnings]);
      if (r.ok) checkRoundTrip(text);
    }), budget(150));
  }, timeoutFor(20_000));

  it('valid policies mutated as structure, written as YAML or JSON: no throw, diagnostics in place, unknown keys at the key', () => {
    fc.assert(fc.property(seedName, fc.array(structMutation, { minLength: 1, maxLength: 3 }), style, (seed, mutations, how) => {
      const text = write(mutations.reduce(mutateStruct, seedOf(seed).value), how);
      const r = load(text);
      checkDiagnostics(text, r.ok ? r.warnings : [...r.errors, ...r.warnings]);
      if (r.ok) checkRoundTrip(text);
    }), budget(150));
  }, timeoutFor(20_000));

  it('the seed policies and random valid policies load again from their /config_dump form to the same hash', () => {
    for (const seed of SEEDS.values()) expect(checkRoundTrip(seed.text), seed.name).toBe(true);
    fc.assert(fc.property(validPolicy(), style, (policy, how) => {
      const text = write(policy, how);
      const r = load(text);
      if (!r.ok) throw new Error(`generated policy rejected: ${r.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}\n${text}`);
      checkDiagnostics(text, r.warnings);
      expect(checkRoundTrip(text)).toBe(true);
    }), budget(80));
  }, timeoutFor(20_000));

  it('the hash names the meaning, not the spelling: comments, key order, defaults written out, 1s vs 1000', () => {
    const a = load('version: 1\nupstreams: { a: { endpoints: [{ address: "127.0.0.1:1" }] } }\nroutes: [{ name: r, to: [{ upstream: a }], timeout: 1s }]\n');
    const b = load('# the same policy\n{"routes": [{"timeout": 1000, "to": [{"upstream": "a"}], "name": "r", "priority": 0}], "upstreams": {"a": {"endpoints": [{"address": "127.0.0.1:1", "labels": {}}]}}, "version": 1}');
    const c = load('version: 1\nupstreams: { a: { endpoints: [{ address: "127.0.0.1:1" }] } }\nroutes: [{ name: r, to: [{ upstream: a }], timeout: 2s }]\n');
    if (!a.ok || !b.ok || !c.ok) throw new Error('invalid');
    expect(policyHash(a.policy)).toBe(policyHash(b.policy));
    expect(policyHash(a.policy)).not.toBe(policyHash(c.policy));
  });
});
