/**
 * Inbound authorization (SPEC §12), Istio's AuthorizationPolicy semantics, compiled once per
 * snapshot into plain matchers. Pure: no I/O, nothing from the proxy or telemetry.
 *
 * - A rule matches when every field it gives holds; a field holds when any of its values matches
 *   (`from`: principals, namespaces, ipBlocks; `to`: methods, paths, ports). A rule with neither
 *   `from` nor `to` matches every request.
 * - Deny rules are checked first: the first that matches refuses the request. Then, if any allow
 *   rule exists, the request must match one; with no allow rule, what no deny rule refused passes.
 * - A plaintext peer has no principal and no namespace: a rule that names principals or namespaces
 *   never matches it (so a deny on principals does not stop plaintext — pair it with strict mTLS,
 *   or allow-list instead, as Istio advises).
 * - Paths are matched in their normalized form (normalize-path.ts), without the query.
 */
import { BlockList, isIP } from 'node:net';
import { compilePattern, describePattern, matches, principalPattern, type Pattern } from './patterns.js';
import { normalizePath } from './normalize-path.js';

/** A rule as the policy gives it (config/schema.ts `authorization[]`). */
export interface AuthzRule {
  readonly name: string;
  readonly action: 'allow' | 'deny';
  readonly from?: { readonly principals?: readonly string[] | undefined; readonly namespaces?: readonly string[] | undefined; readonly ipBlocks?: readonly string[] | undefined } | undefined;
  readonly to?: { readonly methods?: readonly string[] | undefined; readonly paths?: readonly string[] | undefined; readonly ports?: readonly number[] | undefined } | undefined;
}

/** What a decision reads of a request. */
export interface AuthzInput {
  /** The peer's SPIFFE ID; undefined for a plaintext peer. */
  readonly principal: string | undefined;
  readonly namespace: string | undefined;
  /** The peer's IP address (an IPv4-mapped IPv6 address counts as IPv4). */
  readonly sourceIp: string | undefined;
  readonly method: string;
  /** The request path as received (the query is ignored). */
  readonly path: string;
  /** The destination port the request names. */
  readonly port: number;
}

export interface AuthzDecision {
  readonly allowed: boolean;
  /** The deny rule that refused it, or the allow rule that admitted it; null when none decided by name. */
  readonly rule: string | null;
  /** In words, for the 403's body and `explain`. */
  readonly reason: string;
}

export type AuthzCheck = 'principals' | 'namespaces' | 'ipBlocks' | 'methods' | 'paths' | 'ports';

export interface RuleVerdict {
  readonly name: string;
  readonly action: 'allow' | 'deny';
  readonly matched: boolean;
  /** The first field that did not hold, with the request's value. */
  readonly failed?: { readonly check: AuthzCheck; readonly condition: string; readonly actual: string | null };
}

export interface AuthzExplanation {
  /** Deny rules, then allow rules, in policy order: how the decision is reached. */
  readonly rules: readonly RuleVerdict[];
  readonly decision: AuthzDecision;
  /** The path the rules saw (normalized). */
  readonly path: string;
}

export interface Authorizer {
  decide(input: AuthzInput): AuthzDecision;
  explain(input: AuthzInput): AuthzExplanation;
}

interface Field {
  readonly check: AuthzCheck;
  readonly condition: string;
  test(input: AuthzInput, path: string): boolean;
  actual(input: AuthzInput, path: string): string | null;
}

interface CompiledRule {
  readonly name: string;
  readonly action: 'allow' | 'deny';
  readonly fields: readonly Field[];
  /** An allow decision by this rule, made once. */
  readonly admits: AuthzDecision;
  readonly refuses: AuthzDecision;
}

const ALLOWED: AuthzDecision = Object.freeze({ allowed: true, rule: null, reason: 'no deny rule matched and there are no allow rules' });

/** Undefined when there are no rules: every request passes without a check. */
export function compileAuthorization(rules: readonly AuthzRule[] | undefined): Authorizer | undefined {
  if (!rules || rules.length === 0) return undefined;
  const compiled = rules.map(compileRule);
  const deny = compiled.filter((r) => r.action === 'deny');
  const allow = compiled.filter((r) => r.action === 'allow');
  const noAllow: AuthzDecision = Object.freeze({ allowed: false, rule: null, reason: `no allow rule matched (allow rules: ${allow.map((r) => r.name).join(', ')})` });
  const decide = (input: AuthzInput): AuthzDecision => {
    const path = normalizePath(input.path);
    for (const r of deny) if (holds(r, input, path)) return r.refuses;
    if (allow.length === 0) return ALLOWED;
    for (const r of allow) if (holds(r, input, path)) return r.admits;
    return noAllow;
  };
  return Object.freeze({
    decide,
    explain(input: AuthzInput): AuthzExplanation {
      const path = normalizePath(input.path);
      const verdicts = [...deny, ...allow].map((r) => verdict(r, input, path));
      return { rules: verdicts, decision: decide(input), path };
    },
  });
}

function holds(rule: CompiledRule, input: AuthzInput, path: string): boolean {
  for (const f of rule.fields) if (!f.test(input, path)) return false;
  return true;
}

function verdict(rule: CompiledRule, input: AuthzInput, path: string): RuleVerdict {
  const failed = rule.fields.find((f) => !f.test(input, path));
  const base = { name: rule.name, action: rule.action, matched: failed === undefined };
  return failed ? { ...base, failed: { check: failed.check, condition: failed.condition, actual: failed.actual(input, path) } } : base;
}

function compileRule(rule: AuthzRule): CompiledRule {
  const fields: Field[] = [];
  const f = rule.from ?? {};
  const t = rule.to ?? {};
  if (f.principals) fields.push(patternField('principals', f.principals.map(principalPattern), (i) => i.principal));
  if (f.namespaces) fields.push(patternField('namespaces', f.namespaces, (i) => i.namespace));
  if (f.ipBlocks) fields.push(ipField(f.ipBlocks));
  if (t.methods) {
    const methods = new Set(t.methods.map((m) => m.toUpperCase()));
    fields.push({ check: 'methods', condition: `method in [${[...methods].join(', ')}]`, test: (i) => methods.has(i.method), actual: (i) => i.method });
  }
  if (t.paths) fields.push(patternField('paths', t.paths, (_i, path) => path));
  if (t.ports) {
    const ports = new Set(t.ports);
    fields.push({ check: 'ports', condition: `port in [${[...ports].join(', ')}]`, test: (i) => ports.has(i.port), actual: (i) => String(i.port) });
  }
  return Object.freeze({
    name: rule.name, action: rule.action, fields,
    admits: Object.freeze({ allowed: true, rule: rule.name, reason: `allowed by rule ${rule.name}` }),
    refuses: Object.freeze({ allowed: false, rule: rule.name, reason: `denied by rule ${rule.name}` }),
  });
}

function patternField(check: AuthzCheck, written: readonly string[], read: (i: AuthzInput, path: string) => string | undefined): Field {
  const patterns: Pattern[] = written.map(compilePattern);
  return {
    check,
    condition: `${singular(check)} in [${patterns.map(describePattern).join(', ')}]`,
    test: (i, path) => {
      const v = read(i, path);
      if (v === undefined) return false;
      for (const p of patterns) if (matches(p, v)) return true;
      return false;
    },
    actual: (i, path) => read(i, path) ?? null,
  };
}

function ipField(blocks: readonly string[]): Field {
  const list = new BlockList();
  for (const b of blocks) addBlock(list, b);
  return {
    check: 'ipBlocks',
    condition: `source IP in [${blocks.join(', ')}]`,
    test: (i) => {
      const ip = plainIp(i.sourceIp);
      const family = ip === undefined ? 0 : isIP(ip);
      return family !== 0 && list.check(ip!, family === 4 ? 'ipv4' : 'ipv6');
    },
    actual: (i) => plainIp(i.sourceIp) ?? null,
  };
}

/** Adds a CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address. Throws on a malformed one (validation reports it first). */
export function addBlock(list: BlockList, block: string): void {
  const slash = block.indexOf('/');
  const address = slash < 0 ? block : block.slice(0, slash);
  const family = isIP(address);
  if (family === 0) throw new Error(`${JSON.stringify(block)} is not an IP address or CIDR block`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (slash < 0) { list.addAddress(address, type); return; }
  const bits = block.slice(slash + 1);
  const prefix = Number(bits);
  if (!/^\d{1,3}$/.test(bits) || prefix > (family === 4 ? 32 : 128)) throw new Error(`${JSON.stringify(block)}: the prefix length must be 0–${family === 4 ? 32 : 128}`);
  list.addSubnet(address, prefix, type);
}

function plainIp(ip: string | undefined): string | undefined {
  return ip?.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

function singular(check: AuthzCheck): string {
  return check === 'principals' ? 'principal' : check === 'namespaces' ? 'namespace' : check === 'paths' ? 'path' : check;
}
