/**
 * `validate`'s checks of mutual TLS and authorization (SPEC §12) that need the whole policy: what
 * needs an identity has one, SPIFFE IDs and patterns are well-formed, and rules that can never
 * match (a principal in another trust domain, principals on a plaintext-only listener, a path with
 * a query or in a form the matcher never sees) are pointed out.
 */
import { BlockList } from 'node:net';
import { addBlock, checkPattern, normalizePath, principalPattern } from '../authz/index.js';
import { checkTrustDomain, parseSpiffeId } from '../identity/spiffe.js';
import type { KeyPath } from './positions.js';
import type { Policy } from './schema.js';
import type { Problem } from './validate-refs.js';

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function checkMtls(policy: Policy, problems: Problem[]): void {
  const trustDomain = policy.identity?.trustDomain;
  if (trustDomain !== undefined) {
    const bad = checkTrustDomain(trustDomain);
    if (bad) problems.push({ path: ['identity', 'trustDomain'], message: bad, severity: 'error' });
  }
  const mode = policy.listeners.inbound.tls.mode;
  if (mode !== 'disable' && !policy.identity) {
    problems.push({ path: ['listeners', 'inbound', 'tls', 'mode'], message: `mode ${mode} needs the sidecar's identity (add an \`identity\` block: its certificate, key and CA)`, severity: 'error' });
  }
  for (const [name, up] of Object.entries(policy.upstreams)) {
    const tls = up.tls;
    if (!tls) continue;
    const at = (...rest: (string | number)[]): KeyPath => ['upstreams', name, 'tls', ...rest];
    if (tls.mode === 'mutual' && !policy.identity) {
      problems.push({ path: at('mode'), message: 'mode mutual presents the workload certificate: add an `identity` block', severity: 'error' });
    }
    if (tls.mode === 'mutual' && tls.caFile !== undefined) {
      problems.push({ path: at('caFile'), message: 'mutual trusts the mesh CA (identity.caFile); caFile is for mode simple', severity: 'error' });
    }
    if (tls.mode === 'disable') {
      for (const k of ['sni', 'subjectAltNames', 'caFile'] as const) {
        if (tls[k] !== undefined) problems.push({ path: at(k), message: `${k} is ignored: mode is disable (plaintext)`, severity: 'warning' });
      }
    }
    (tls.subjectAltNames ?? []).forEach((san, i) => {
      if (!san.startsWith('spiffe://')) return;
      const id = parseSpiffeId(san);
      if (typeof id === 'string') problems.push({ path: at('subjectAltNames', i), message: `${JSON.stringify(san)}: ${id}`, severity: 'error' });
      else if (tls.mode === 'mutual' && trustDomain !== undefined && id.trustDomain !== trustDomain) {
        problems.push({ path: at('subjectAltNames', i), message: `${san} is not in the trust domain ${trustDomain}: a mutual server must be, so this SAN can never be the one that matches`, severity: 'warning' });
      }
    });
  }
  checkAuthorization(policy, trustDomain, mode, problems);
}

function checkAuthorization(policy: Policy, trustDomain: string | undefined, mode: string, problems: Problem[]): void {
  const names = new Map<string, number>();
  policy.authorization.forEach((rule, i) => {
    const at = (...rest: (string | number)[]): KeyPath => ['authorization', i, ...rest];
    const prev = names.get(rule.name);
    if (prev !== undefined) problems.push({ path: at('name'), message: `duplicate rule name "${rule.name}" (first at authorization[${prev}])`, severity: 'error' });
    else names.set(rule.name, i);
    const from = rule.from ?? {};
    const to = rule.to ?? {};
    if ((from.principals || from.namespaces) && mode === 'disable') {
      const field = from.principals ? 'principals' : 'namespaces';
      problems.push({ path: at('from', field), message: `can never match: the inbound listener takes only plaintext (tls.mode disable), and a plaintext peer has no ${field === 'principals' ? 'principal' : 'namespace'}`, severity: 'warning' });
    }
    (from.principals ?? []).forEach((p, j) => checkPrincipal(p, trustDomain, at('from', 'principals', j), problems));
    (from.namespaces ?? []).forEach((ns, j) => {
      const bad = checkPattern(ns);
      const literal = ns.replace(/^\*|\*$/g, '');
      if (bad) problems.push({ path: at('from', 'namespaces', j), message: bad, severity: 'error' });
      else if (literal !== '' && !/^[-a-z0-9]+$/.test(literal)) problems.push({ path: at('from', 'namespaces', j), message: `${JSON.stringify(ns)} is not a Kubernetes namespace name (lower-case letters, digits, "-")`, severity: 'error' });
      else if (ns === literal && !NAMESPACE.test(ns)) problems.push({ path: at('from', 'namespaces', j), message: `${JSON.stringify(ns)} is not a Kubernetes namespace name`, severity: 'error' });
    });
    (from.ipBlocks ?? []).forEach((b, j) => {
      try { addBlock(new BlockList(), b); } catch (err) { problems.push({ path: at('from', 'ipBlocks', j), message: (err as Error).message, severity: 'error' }); }
    });
    (to.paths ?? []).forEach((p, j) => checkPath(p, at('to', 'paths', j), problems));
    if (rule.action === 'deny' && !rule.from && !rule.to) {
      problems.push({ path: at(), message: `deny rule "${rule.name}" has neither from nor to: it refuses every inbound request`, severity: 'warning' });
    }
  });
}

function checkPrincipal(p: string, trustDomain: string | undefined, path: KeyPath, problems: Problem[]): void {
  const bad = checkPattern(p);
  if (bad) { problems.push({ path, message: bad, severity: 'error' }); return; }
  if (p === '*') return;
  const full = principalPattern(p);
  const prefix = full.endsWith('*');
  const suffix = full.startsWith('*');
  if (suffix) {
    const tail = full.slice(1);
    if (tail.includes('spiffe://')) problems.push({ path, message: `${JSON.stringify(p)}: a suffix pattern cannot hold the scheme`, severity: 'error' });
    return;
  }
  const literal = prefix ? full.slice(0, -1) : full;
  const rest = literal.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const td = slash < 0 ? rest : rest.slice(0, slash);
  // A prefix that ends inside the trust domain (`spiffe://clus*`) names no whole trust domain.
  const wholeDomain = !prefix || slash >= 0;
  const invalid = !prefix ? asReason(parseSpiffeId(full)) : wholeDomain ? checkTrustDomain(td) : undefined;
  if (invalid !== undefined) { problems.push({ path, message: `${JSON.stringify(p)} is not a SPIFFE ID${prefix ? ' prefix' : ''}: ${invalid}`, severity: 'error' }); return; }
  if (trustDomain !== undefined && wholeDomain && td !== trustDomain) {
    problems.push({ path, message: `can never match: ${JSON.stringify(p)} is in the trust domain ${td}, and peers are only accepted from ${trustDomain}`, severity: 'warning' });
  }
}

function asReason(r: ReturnType<typeof parseSpiffeId>): string | undefined {
  return typeof r === 'string' ? r : undefined;
}

function checkPath(p: string, path: KeyPath, problems: Problem[]): void {
  const bad = checkPattern(p);
  if (bad) { problems.push({ path, message: bad, severity: 'error' }); return; }
  if (p === '*' || p.startsWith('*')) return;
  if (!p.startsWith('/')) { problems.push({ path, message: `${JSON.stringify(p)} does not start with "/" or "*": it can never match`, severity: 'error' }); return; }
  const literal = p.endsWith('*') ? p.slice(0, -1) : p;
  if (literal.includes('?')) { problems.push({ path, message: `${JSON.stringify(p)} holds a query: paths are matched without one, so it can never match`, severity: 'warning' }); return; }
  const normal = normalizePath(literal);
  if (normal !== literal) {
    problems.push({ path, message: `${JSON.stringify(p)} is not in normal form: paths are matched normalised (${JSON.stringify(normal)}), so write that`, severity: 'warning' });
  }
}
