/**
 * `pilotfish explain` and admin `GET /explain`: the decision for a request, sending nothing — every
 * route considered and why it matched or not, the winner, the destination split (with which
 * endpoints are eligible now), the sticky bucket and endpoint for the request's key, and the
 * effective timeout, retry, fault, mirror, rewrite and header policy, defaults filled in. Inbound,
 * the authorization rules (SPEC §12) as they judge the request from `principal` (a SPIFFE ID; none:
 * a plaintext peer): each rule's verdict, and the one that decides.
 */
import type { Direction, RoutePolicy } from '../config/index.js';
import type { DestinationDecision, RateLimitDecision, Snapshot } from '../core/snapshot.js';
import { formatDuration } from '../config/index.js';
import type { RouteVerdict } from '../routing/index.js';
import { explainRetry, renderRetry, type RetryExplanation } from './retry.js';
import type { AuthzExplanation } from '../authz/index.js';
import { parseSpiffeId } from '../identity/spiffe.js';
import { authorityPort } from '../pipeline/authorize.js';

export interface ExplainRequest {
  /** Absolute URL: `http://reviews/path?q=1` (the host is what routes). */
  readonly url: string;
  readonly method?: string | undefined;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly direction?: Direction | undefined;
  readonly sourceIp?: string | undefined;
  /** The peer's SPIFFE ID, as mutual TLS would verify it (inbound authorization); absent: a plaintext peer. */
  readonly principal?: string | undefined;
}

export interface ExplainResult {
  readonly request: { direction: Direction; method: string; host: string; path: string; query: string; headers: Record<string, string> };
  readonly considered: readonly RouteVerdict[];
  readonly winner: string | null;
  /** What happens when no policy route wins. */
  readonly fallback: string | null;
  readonly destination: DestinationDecision | null;
  /** The winning route's rate limit as it stands for this request's bucket; null without one. */
  readonly rateLimit: RateLimitDecision | null;
  readonly policy: Partial<RoutePolicy> | null;
  /** The retry policy, the budget now and the retries this request would not get (null: no retries). */
  readonly retry: RetryExplanation | null;
  /** Inbound: how the authorization rules judge the request; null outbound or without rules. */
  readonly authorization: (AuthzExplanation & { principal: string | null }) | null;
  /**
   * The HTTP version each destination's upstream is spoken to (SPEC §11 `protocol`); `downstream`
   * resolved for this request as HTTP/1.1 (explain has no HTTP/2 client in view) unless
   * `protocol` says otherwise.
   */
  readonly protocols: Readonly<Record<string, string>>;
  readonly generation: number;
}

export function explainRequest(snapshot: Snapshot, r: ExplainRequest): ExplainResult {
  const url = new URL(r.url);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = v;
  headers.host ??= url.host;
  const direction = r.direction ?? 'outbound';
  const input = { host: url.hostname.toLowerCase(), path: url.pathname, query: url.search.slice(1), method: (r.method ?? 'GET').toUpperCase(), headers };
  const ex = snapshot.explain(direction, input);
  const route = snapshot.route(direction, input);
  const policy = ex.winner ? snapshot.policy.routes[ex.winner.index]! : undefined;
  const fallback = ex.winner ? null
    : route ? (direction === 'inbound' ? 'no inbound route: forwarded to the app' : 'allow-any: forwarded to the Host itself')
      : '404 NR (outboundTrafficPolicy: registry-only)';
  const destination = route ? route.describeDestination(headers, r.sourceIp) : null;
  return {
    request: { direction, method: input.method, host: input.host, path: input.path, query: input.query, headers },
    considered: ex.considered,
    winner: ex.winner?.name ?? null,
    fallback,
    destination,
    rateLimit: route?.describeRateLimit?.(headers, r.sourceIp) ?? null,
    policy: policy ? effective(policy) : null,
    retry: policy ? explainRetry(policy.retries, route?.retryBudget?.(), input.method, headers) : null,
    authorization: direction === 'inbound' ? authorization(snapshot, r, input, headers.host) : null,
    protocols: protocolsOf(snapshot, destination),
    generation: snapshot.generation,
  };
}

function authorization(snapshot: Snapshot, r: ExplainRequest, input: { method: string; path: string }, host: string): ExplainResult['authorization'] {
  if (snapshot.authorization === undefined) return null;
  const id = r.principal === undefined ? undefined : parseSpiffeId(r.principal);
  if (typeof id === 'string') throw new Error(`principal: ${r.principal}: ${id}`);
  const ex = snapshot.authorization.explain({
    principal: id?.id, namespace: id?.namespace, sourceIp: r.sourceIp, method: input.method, path: input.path, port: authorityPort(host),
  });
  return { ...ex, principal: id?.id ?? null };
}

function protocolsOf(snapshot: Snapshot, destination: DestinationDecision | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of destination?.split ?? []) out[d.upstream] = snapshot.policy.upstreams[d.upstream]?.protocol ?? 'downstream';
  return out;
}

function effective(p: RoutePolicy): Partial<RoutePolicy> {
  const { name: _n, match: _m, to: _t, ...rest } = p;
  return rest;
}

/** The human-readable form. */
export function renderExplanation(x: ExplainResult): string {
  const q = x.request;
  const out = [`${q.method} http://${q.host}${q.path}${q.query ? `?${q.query}` : ''} (${q.direction}, policy generation ${x.generation})`, '', 'routes considered, in precedence order:'];
  if (x.considered.length === 0) out.push('  (none)');
  for (const v of x.considered) {
    const mark = v.outcome === 'winner' ? 'WINNER ' : v.outcome === 'matched' ? 'matched' : 'no     ';
    const why = v.failed ? `: ${v.failed.condition} ≠ ${v.failed.actual === undefined ? '(absent)' : JSON.stringify(v.failed.actual)}` : v.outcome === 'matched' ? ': matches, but an earlier route wins' : '';
    out.push(`  ${mark} ${v.name} [${v.matchType}, priority ${v.priority}]${why}`);
  }
  out.push('', x.winner ? `winner: ${x.winner}` : `no route: ${x.fallback}`);
  if (x.destination) {
    out.push('', 'destinations:');
    for (const d of x.destination.split) {
      const protocol = x.protocols[d.upstream];
      const version = protocol === undefined || protocol === 'downstream' ? '' : ` [${protocol}]`;
      out.push(`  ${d.weight}% ${d.upstream}${d.subset ? `/${d.subset}` : ''}${version}: ${d.eligible.length}/${d.endpoints.length} endpoints eligible (${d.eligible.join(', ') || 'none'})`);
      if (d.locality) {
        out.push(`    locality tiers (this sidecar in ${d.locality.self ?? 'an unknown place: one tier'}), nearest first:`);
        for (const t of d.locality.tiers) {
          out.push(`      ${t.share}% ${t.tier}: ${t.eligible.length}/${t.endpoints.length} eligible (${t.eligible.join(', ') || 'none'})`);
        }
      }
    }
    const s = x.destination.sticky;
    if (s) {
      out.push(s.key === null ? '  sticky: the request carries no key: plain weighted choice'
        : `  sticky: key ${JSON.stringify(s.key)} → bucket ${s.bucket} → ${s.destination ?? 'none (503 UH)'}${s.tier !== undefined ? ` → tier ${s.tier ?? 'none'}` : ''} → endpoint ${s.endpoint ?? 'none'}${s.setsCookie ? ' (new session: Set-Cookie)' : ''}`);
    }
  }
  const rl = x.rateLimit;
  if (rl) {
    const bucket = rl.key === null ? 'one bucket for the route' : `a bucket per ${rl.bucket} (this request's: ${rl.key === '' ? 'none given, the shared one' : JSON.stringify(rl.key)})`;
    const left = rl.fleet?.state === 'shared' ? `${rl.remaining} leased to this sidecar now` : `${rl.remaining} left now`;
    out.push('', `rate limit: ${rl.requests} requests per ${formatDuration(rl.per)}, burst ${rl.burst}, ${rl.scope}; ${bucket}: ${left}${rl.key === null ? '' : `; ${rl.keys}/${rl.maxKeys} keys tracked`}`);
    if (rl.fleet) out.push(`  ${fleetLine(rl.fleet)}`);
  }
  if (x.authorization) renderAuthorization(x.authorization, out);
  if (x.policy) {
    out.push('', 'effective policy:');
    for (const [k, v] of Object.entries(x.policy)) if (v !== undefined) out.push(`  ${k}: ${JSON.stringify(v)}`);
  }
  if (x.retry) out.push(...renderRetry(x.retry));
  return `${out.join('\n')}\n`;
}

/** The authorization verdicts: deny rules, then allow rules, and the decision. */
function renderAuthorization(a: NonNullable<ExplainResult['authorization']>, out: string[]): void {
  out.push('', `authorization (peer ${a.principal ?? 'plaintext, no principal'}, path ${a.path}), deny rules first:`);
  for (const v of a.rules) {
    const why = v.failed ? `: ${v.failed.condition} ≠ ${v.failed.actual === null ? '(none)' : JSON.stringify(v.failed.actual)}` : '';
    const mark = v.matched ? (v.name === a.decision.rule ? 'DECIDES' : 'matched') : 'no     ';
    out.push(`  ${mark} ${v.name} [${v.action}]${why}`);
  }
  out.push(`  → ${a.decision.allowed ? 'ALLOWED' : 'DENIED (403 AD)'}: ${a.decision.reason}`);
}

/** A fleet-wide limit's state in words. */
function fleetLine(f: NonNullable<RateLimitDecision['fleet']>): string {
  const local = `a local bucket of ${+f.fallbackRate.requests.toFixed(3)} requests per ${formatDuration(f.fallbackRate.per)}, burst ${f.fallbackRate.burst} (requests / ${f.sidecars} live sidecars)`;
  if (f.state === 'shared') return `shared through the fleet's Redis by ${f.sidecars} live sidecars, leased in batches of ${f.batch}; if Redis is lost: ${local}`;
  if (f.state === 'fallback') return `FALLBACK (${f.reason ?? 'the fleet\'s Redis is unreachable'}): ${local} decides until Redis answers again`;
  return 'shared through the fleet\'s Redis under `run --fleet`; without a fleet (as here) a sidecar uses a local bucket at requests / N';
}
