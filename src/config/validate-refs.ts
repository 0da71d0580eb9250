/**
 * Checks that need the whole policy in view: references to unknown upstreams and subsets, weights
 * that do not sum to 100, duplicate route names, regexes the linear engine rejects. Returns problems
 * with key paths; the loader turns paths into positions.
 */
import type { Policy } from './schema.js';
import type { PolicyContext } from './load.js';
import type { KeyPath } from './positions.js';
import { compileRegex } from '../routing/regex.js';
import { findShadowedRoutes } from '../routing/shadow.js';
import { checkLocality } from './validate-locality.js';
import { checkRateLimits } from './validate-rate-limit.js';
import { checkMtls } from './validate-mtls.js';

export interface Problem { path: KeyPath; message: string; severity: 'error' | 'warning'; atKey?: boolean }

/** Upstream names every policy may use without declaring them. */
export const BUILTIN_UPSTREAMS = new Set(['app']);

export function validateRefs(policy: Policy, context: PolicyContext = {}): Problem[] {
  const problems: Problem[] = [];
  const names = new Map<string, number>();
  policy.routes.forEach((route, i) => {
    const at = (...rest: (string | number)[]): KeyPath => ['routes', i, ...rest];
    const prev = names.get(route.name);
    if (prev !== undefined) problems.push({ path: at('name'), message: `duplicate route name "${route.name}" (first at routes[${prev}])`, severity: 'error' });
    else names.set(route.name, i);
    if (!route.to && route.direction === 'outbound') {
      problems.push({ path: at(), message: 'an outbound route needs `to` (only inbound routes default to the app)', severity: 'error' });
    }
    checkDestinations(policy, route.to ?? [], at, problems);
    if (route.mirror && !policy.upstreams[route.mirror.upstream] && !BUILTIN_UPSTREAMS.has(route.mirror.upstream)) {
      problems.push({ path: at('mirror', 'upstream'), message: `unknown upstream "${route.mirror.upstream}"`, severity: 'error' });
    }
    checkRegexes(route, at, problems);
    checkSharedSessions(route, context, at, problems);
  });
  for (const w of findShadowedRoutes(policy.routes)) {
    problems.push({ path: ['routes', w.index], message: w.message, severity: 'warning' });
  }
  checkRetryArithmetic(policy, problems);
  checkLocality(policy, problems);
  checkRateLimits(policy, context, problems);
  checkMtls(policy, problems);
  for (const [name, up] of Object.entries(policy.upstreams)) {
    for (const [subset, selector] of Object.entries(up.subsets)) {
      const selects = up.endpoints.some((e) => Object.entries(selector).every(([k, v]) => e.labels[k] === v));
      if (!selects) problems.push({ path: ['upstreams', name, 'subsets', subset], message: `subset "${subset}" selects no endpoint`, severity: 'warning' });
    }
  }
  return problems;
}

/** `sticky.cookie.shared` keeps sessions in the fleet's Redis: an error without a fleet, a warning when unknown. */
function checkSharedSessions(route: Policy['routes'][number], context: PolicyContext, at: (...r: (string | number)[]) => KeyPath, problems: Problem[]): void {
  const sticky = route.sticky;
  if (!sticky || !('cookie' in sticky) || !sticky.cookie.shared || context.fleet === true) return;
  problems.push(context.fleet === false
    ? { path: at('sticky', 'cookie', 'shared'), message: 'shared sessions need a fleet (pilotfish run --fleet URL)', severity: 'error' }
    : { path: at('sticky', 'cookie', 'shared'), message: 'shared sessions need a fleet: valid for `publish` and `run --fleet`, an error for `run` without one', severity: 'warning' });
}

function checkDestinations(policy: Policy, to: NonNullable<Policy['routes'][number]['to']>, at: (...r: (string | number)[]) => KeyPath, problems: Problem[]): void {
  to.forEach((dest, j) => {
    const up = policy.upstreams[dest.upstream];
    if (!up && !BUILTIN_UPSTREAMS.has(dest.upstream)) {
      problems.push({ path: at('to', j, 'upstream'), message: `unknown upstream "${dest.upstream}"`, severity: 'error' });
    } else if (dest.subset !== undefined && !up?.subsets[dest.subset]) {
      problems.push({ path: at('to', j, 'subset'), message: `unknown subset "${dest.subset}" of upstream "${dest.upstream}"`, severity: 'error' });
    }
  });
  if (to.length > 1) {
    const missing = to.findIndex((d) => d.weight === undefined);
    if (missing >= 0) problems.push({ path: at('to', missing), message: 'every destination of a split needs a weight', severity: 'error' });
    else {
      const sum = to.reduce((s, d) => s + (d.weight ?? 0), 0);
      if (sum !== 100) problems.push({ path: at('to'), message: `weights sum to ${sum}, not 100`, severity: 'error' });
    }
  }
}

function checkRegexes(route: Policy['routes'][number], at: (...r: (string | number)[]) => KeyPath, problems: Problem[]): void {
  const check = (src: string, path: KeyPath): void => {
    const r = compileRegex(src);
    if (!r.ok) problems.push({ path, message: `regex ${JSON.stringify(src)} rejected: ${r.error}`, severity: 'error' });
  };
  const m = route.match;
  if (m.path && 'regex' in m.path) check(m.path.regex, at('match', 'path', 'regex'));
  for (const kind of ['headers', 'query', 'jsonBody'] as const) {
    for (const [key, cond] of Object.entries(m[kind] ?? {})) {
      if ('regex' in cond) check(cond.regex, at('match', kind, key, 'regex'));
    }
  }
}

/**
 * Retries that cannot fit: `(1 + attempts) × perTryTimeout` plus the backoff ceilings beyond the
 * route `timeout` means the later tries can never run (SPEC §2 `validate`).
 */
function checkRetryArithmetic(policy: Policy, problems: Problem[]): void {
  policy.routes.forEach((route, i) => {
    const r = route.retries;
    if (!r || r.perTryTimeout === undefined || r.attempts === 0) return;
    let backoff = 0;
    for (let n = 0; n < r.attempts; n++) backoff += Math.min(r.backoff.max, r.backoff.base * 2 ** n);
    const worst = (1 + r.attempts) * r.perTryTimeout + backoff;
    if (worst > route.timeout) {
      problems.push({
        path: ['routes', i, 'retries'],
        message: `${1 + r.attempts} tries x perTryTimeout ${r.perTryTimeout}ms + backoff up to ${backoff}ms = ${worst}ms exceeds the route timeout ${route.timeout}ms: later tries may never run`,
        severity: 'warning',
      });
    }
  });
}
