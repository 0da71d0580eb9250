/**
 * Per-upstream state that outlives a policy reload while the upstream's definition is unchanged: its
 * connections (the forwarding engine's pools, one per endpoint), admission control, load balancers and their load tracker,
 * circuit breakers per subset, outlier ejections, active health, and sticky-session affinities.
 */
import type { UpstreamPolicy } from '../config/index.js';
import type { ProxyEvents } from '../core/events.js';
import type { ForwardingEngine, UpstreamConnections, UpstreamProtocol } from '../proxy/engine.js';
import type { UpstreamTls } from '../proxy/tls-connect.js';
import {
  CircuitBreaker, ConnectionPool, HealthChecker, OutlierDetector,
  type BucketTicker, type CircuitBreakerOptions, type HealthCheckOptions, type OutlierDetectionOptions,
} from '../resilience/index.js';
import {
  createLoadBalancer, LoadTracker, SessionAffinity, CONSISTENT_HASH_KINDS,
  type LoadBalancer, type LoadBalancerKind, type Locality, type LocalityView,
} from '../routing/index.js';
import type { Logger } from 'pino';
import { selects, type Endpoint, makeEndpoint } from './endpoint.js';
import { DnsEndpoints, isDnsName, type EndpointSpec, type Resolver } from './dns-endpoints.js';
import { probeFor } from './health-probe.js';
import { EndpointViews, type LocalitySettings } from './endpoint-views.js';

export interface UpstreamDefinition {
  readonly endpoints: readonly Endpoint[];
  /** Endpoints named by DNS, resolved into `endpoints` (all records) and refreshed on their own. */
  readonly dns?: { readonly specs: readonly EndpointSpec[]; readonly refreshMs: number } | undefined;
  readonly subsets: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly loadBalancer: LoadBalancerKind;
  readonly pool: { maxConnections: number; maxPendingRequests: number; connectTimeout: number; idleTimeout: number };
  readonly circuitBreaker?: CircuitBreakerOptions | undefined;
  readonly outlierDetection?: OutlierDetectionOptions | undefined;
  readonly healthCheck?: (HealthCheckOptions & { path?: string | undefined; grpc?: { service: string } | undefined }) | undefined;
  /** Locality-aware balancing: the sidecar's place and the failover order. Undefined: off. */
  readonly locality?: LocalitySettings | undefined;
  /** TLS origination (the upstream's `tls`); undefined: plaintext. */
  readonly tls?: UpstreamTls | undefined;
  /** The HTTP version spoken to the endpoints (SPEC §11). Default `downstream`. */
  readonly protocol?: UpstreamProtocol | undefined;
}

export interface UpstreamDeps {
  readonly ticker: BucketTicker;
  /** The forwarding engine, which makes and owns the upstream's connections. */
  readonly engine: ForwardingEngine;
  readonly events: ProxyEvents;
  /** DNS resolver for named endpoints; default the system's. */
  readonly resolver?: Resolver;
  readonly log?: Logger;
  /**
   * The sidecar's own place when it overrides the policy's `locality` (env `PILOTFISH_LOCALITY`);
   * undefined: the policy's.
   */
  readonly locality?: Locality | undefined;
}

/** The key of the whole upstream (no subset) in per-subset maps. */
const ALL = '';
/** Cluster warming: connections opened per endpoint with none (Envoy's preconnect ratio 1: one for the first request). */
const WARM_PER_ENDPOINT = 1;
/** Cluster warming: at most this many endpoints of one upstream are connected ahead (a flip stays cheap for a large upstream). */
const WARM_ENDPOINTS = 32;

export class UpstreamState {
  readonly connections: UpstreamConnections;
  readonly pool: ConnectionPool;
  readonly tracker: LoadTracker;
  readonly outlier: OutlierDetector | undefined;
  readonly health: HealthChecker | undefined;
  private readonly members = new Map<string, readonly Endpoint[]>();
  private endpoints: readonly Endpoint[];
  private readonly dns: DnsEndpoints | undefined;
  private readonly balancers = new Map<string, LoadBalancer>();
  private readonly stickyBalancers = new Map<string, LoadBalancer>();
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly affinities = new Map<string, SessionAffinity>();
  private readonly views: EndpointViews;
  private disposed = false;

  constructor(readonly name: string, readonly hash: string, readonly def: UpstreamDefinition, private readonly deps: UpstreamDeps) {
    // A state lives as long as its definition (a changed one is a new state), so its balancer kind is fixed.
    this.tracker = new LoadTracker({ latency: def.loadBalancer === 'ewma' });
    this.endpoints = def.endpoints;
    this.index();
    if (def.dns) {
      this.dns = new DnsEndpoints(def.dns.specs, def.dns.refreshMs, (list) => this.setEndpoints(list), deps.resolver,
        (host, err) => deps.log?.warn({ upstream: name, host, err: String(err) }, 'DNS resolution failed; keeping the last good addresses'));
      this.endpoints = this.dns.current();
      this.index();
    }
    this.connections = deps.engine.connections(name, {
      connectTimeoutMs: def.pool.connectTimeout, idleTimeoutMs: def.pool.idleTimeout, tls: def.tls,
      protocol: def.protocol ?? 'downstream', maxConnections: def.pool.maxConnections,
    });
    this.pool = new ConnectionPool(def.pool, { name });
    const addresses = this.endpoints.map((e) => e.address);
    if (def.outlierDetection) {
      this.outlier = new OutlierDetector(addresses, def.outlierDetection);
      this.outlier.on('eject', (e) => deps.events.ejection(name, e.endpoint));
    }
    if (def.healthCheck) {
      this.health = new HealthChecker(addresses, probeFor(def.healthCheck, def.protocol), def.healthCheck);
      this.health.on('change', (c) => deps.events.endpointHealthy(name, c.endpoint, c.healthy));
    }
    this.views = new EndpointViews(this.health, this.outlier, def.locality);
  }

  /** `self`: the sidecar's own place, for a locality-aware upstream. */
  static fromPolicy(name: string, hash: string, p: UpstreamPolicy, deps: UpstreamDeps, self?: Locality, tls?: UpstreamTls): UpstreamState {
    const named = p.endpoints.some((e) => isDnsName(e.address));
    return new UpstreamState(name, hash, {
      endpoints: p.endpoints.filter((e) => !isDnsName(e.address)).map((e) => makeEndpoint(e.address, e.labels)),
      dns: named ? { specs: p.endpoints, refreshMs: p.dnsRefresh } : undefined,
      subsets: p.subsets,
      loadBalancer: p.loadBalancer,
      pool: p.connectionPool,
      circuitBreaker: p.circuitBreaker,
      outlierDetection: p.outlierDetection,
      healthCheck: p.healthCheck,
      locality: p.locality?.enabled ? { self, failover: p.locality.failover } : undefined,
      tls,
      protocol: p.protocol,
    }, deps);
  }

  /** Resolves DNS-named endpoints once (a new upstream is not served before it knows its addresses). */
  async ready(): Promise<void> {
    await this.dns?.start();
  }

  private index(): void {
    this.members.set(ALL, this.endpoints);
    for (const [subset, selector] of Object.entries(this.def.subsets)) this.members.set(subset, this.endpoints.filter((e) => selects(selector, e)));
  }

  /** New membership (a DNS refresh): kept endpoints keep their health and ejection state. */
  private setEndpoints(list: readonly Endpoint[]): void {
    this.endpoints = list;
    this.index();
    const addresses = list.map((e) => e.address);
    this.outlier?.setEndpoints(addresses);
    this.health?.setEndpoints(addresses);
  }

  /** Starts what runs on its own (health probes); called once the snapshot using it is live. */
  activate(): void {
    if (!this.disposed) this.health?.start();
    for (const e of this.endpoints) this.deps.events.endpointHealthy(this.name, e.address, this.health?.isHealthy(e.address) ?? true);
  }

  /**
   * Cluster warming (docs/data-plane.md): a connection started to each eligible member of `subset`
   * (the first `WARM_ENDPOINTS`) that has none, within the pool's `maxConnections`; nothing waits
   * for them. An engine that cannot warm does nothing.
   */
  warm(subset: string | undefined): void {
    if (this.connections.warm === undefined || this.disposed) return;
    const targets = this.eligible(subset).slice(0, Math.min(WARM_ENDPOINTS, this.def.pool.maxConnections)).map((e) => e.url);
    if (targets.length > 0) this.connections.warm(targets, WARM_PER_ENDPOINT);
  }

  /** Endpoints of a subset (or of the whole upstream), in policy order. */
  membersOf(subset: string | undefined): readonly Endpoint[] {
    return this.members.get(subset ?? ALL) ?? [];
  }

  /** Members that may take traffic now: healthy and not ejected. The static list when neither applies. */
  eligible(subset: string | undefined): readonly Endpoint[] {
    const list = this.membersOf(subset);
    if (!this.outlier && !this.health) return list;
    return this.views.eligible(subset ?? ALL, list); // cached until health, ejections or membership change
  }

  /** The locality view (tiers, shares) of a subset; undefined unless the upstream is locality-aware. */
  localityView(subset: string | undefined): LocalityView<Endpoint> | undefined {
    return this.def.locality === undefined ? undefined : this.views.view(subset ?? ALL, this.membersOf(subset));
  }

  /** The balancer of one locality tier of a subset (each tier keeps its own cursor, ring or table). */
  tierBalancer(subset: string | undefined, tier: number, sticky: boolean): LoadBalancer {
    return this.views.tierBalancer(subset ?? ALL, this.membersOf(subset), tier, sticky, () => this.makeBalancer(sticky));
  }

  /** The upstream's balancer for a subset; sticky picks use a consistent-hash one. */
  balancer(subset: string | undefined, sticky: boolean): LoadBalancer {
    const consistent = CONSISTENT_HASH_KINDS.has(this.def.loadBalancer);
    const map = sticky && !consistent ? this.stickyBalancers : this.balancers;
    const key = subset ?? ALL;
    let lb = map.get(key);
    if (!lb) {
      lb = this.makeBalancer(sticky);
      map.set(key, lb);
    }
    return lb;
  }

  /** A balancer of the upstream's kind; sticky picks need a consistent-hash one (ring-hash unless maglev is the kind). */
  private makeBalancer(sticky: boolean): LoadBalancer {
    const kind = this.def.loadBalancer;
    return createLoadBalancer(sticky && !CONSISTENT_HASH_KINDS.has(kind) ? 'ring-hash' : kind, { tracker: this.tracker });
  }

  /** The circuit breaker of a subset (or of the whole upstream), if the upstream has one. */
  breaker(subset: string | undefined): CircuitBreaker | undefined {
    const options = this.def.circuitBreaker;
    if (!options) return undefined;
    const key = subset ?? ALL;
    let b = this.breakers.get(key);
    if (!b) {
      b = new CircuitBreaker(options, { name: subset ? `${this.name}/${subset}` : this.name, ticker: this.deps.ticker });
      b.on('stateChange', (t) => this.deps.events.breakerState(this.name, key, t.code));
      this.breakers.set(key, b);
      this.deps.events.breakerState(this.name, key, 0);
    }
    return b;
  }

  /** Session → endpoint memory of one sticky-cookie route and subset. */
  affinity(route: string, subset: string | undefined, ttlMs: number): SessionAffinity {
    const key = `${route}|${subset ?? ALL}|${ttlMs}`;
    let a = this.affinities.get(key);
    if (!a) this.affinities.set(key, (a = new SessionAffinity({ ttl: ttlMs })));
    return a;
  }

  /** The /clusters view of this upstream. */
  describe(): Record<string, unknown> {
    const ejections = new Map((this.outlier?.snapshot() ?? []).map((s) => [s.endpoint, s]));
    return {
      loadBalancer: this.def.loadBalancer,
      subsets: Object.fromEntries([...this.members].filter(([k]) => k !== ALL).map(([name, list]) => [name, list.map((e) => e.address)])),
      requests: { active: this.pool.active, pending: this.pool.pending },
      connections: this.connections.describe(),
      circuitBreakers: Object.fromEntries([...this.breakers].map(([k, b]) => [k || '(all)', b.state])),
      ...(this.dns ? { dns: this.def.dns?.specs.filter((e) => isDnsName(e.address)).map((e) => e.address) } : {}),
      ...(this.def.locality ? { locality: this.describeLocality() } : {}),
      endpoints: this.endpoints.map((e) => {
        const o = ejections.get(e.address);
        return {
          address: e.address, labels: e.labels,
          healthy: this.health?.isHealthy(e.address) ?? true,
          ejected: this.outlier?.isEjected(e.address) ?? false,
          ...(o ? { ejection: o } : {}),
          active: this.tracker.pending(e.address),
        };
      }),
    };
  }

  /** The tiers (and each tier's share now) of the whole upstream and of each subset. */
  private describeLocality(): Record<string, unknown> {
    const { self, failover } = this.def.locality!;
    const subsets = [...this.members.keys()].filter((k) => k !== ALL);
    return {
      self: self ?? null, failover,
      tiers: this.localityView(undefined)?.describe() ?? [],
      ...(subsets.length ? { subsets: Object.fromEntries(subsets.map((k) => [k, this.localityView(k)?.describe() ?? []])) } : {}),
    };
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * Releases everything: timers (breakers, outlier sweep, health probes, affinity sweeps) and pooled
   * sockets. Sockets carrying a request finish it and are closed when freed.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.dns?.dispose();
    for (const b of this.breakers.values()) b.dispose();
    this.outlier?.dispose();
    this.health?.stop();
    for (const a of this.affinities.values()) a.close();
    this.connections.dispose();
  }
}
