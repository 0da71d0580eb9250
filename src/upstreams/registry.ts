/**
 * The registry of per-upstream state, keyed by upstream name. Each new policy is planned against it:
 * an upstream whose definition hash is unchanged keeps its state (pooled sockets, breakers, ejections,
 * health); a changed one gets fresh state; a removed one is disposed once the new snapshot commits.
 */
import { createHash } from 'node:crypto';
import type { Policy } from '../config/index.js';
import type { UpstreamTls } from '../proxy/tls-connect.js';
import { makeEndpoint, type Endpoint } from './endpoint.js';
import { UpstreamState, type UpstreamDefinition, type UpstreamDeps } from './upstream-state.js';

/** The reserved name of the application behind the inbound listener. */
export const APP_UPSTREAM = 'app';
/** Pseudo-upstream for `outboundTrafficPolicy: allow-any` traffic to hosts outside the policy. */
export const PASSTHROUGH_UPSTREAM = 'passthrough';

export interface RegistryPlan {
  /** The state every upstream of the new policy will use. */
  readonly states: ReadonlyMap<string, UpstreamState>;
  /** Upstreams that get fresh state (new or changed). */
  readonly created: readonly string[];
  commit(): void;
  abort(): void;
}

export class UpstreamRegistry {
  private states = new Map<string, UpstreamState>();
  /**
   * Each upstream definition's hash, by the definition object: a policy validated with memory
   * (`PolicyMemory`) hands an unchanged upstream back as the same object, hashed once.
   */
  private hashes = new WeakMap<object, { readonly self: unknown; readonly hash: string }>();

  constructor(private readonly deps: UpstreamDeps) {}

  /**
   * Plans the registry for `policy` without touching the current state: unchanged upstreams (same
   * definition hash) are reused, changed and new ones are created aside. `commit()` makes the plan
   * current and disposes what it replaced or removed; `abort()` (a build that failed) disposes only
   * what the plan created, so a bad policy leaves every live upstream untouched.
   */
  plan(policy: Policy, tls: ReadonlyMap<string, UpstreamTls> = NO_TLS): RegistryPlan {
    const wanted = new Map<string, { hash: string; make: () => UpstreamState }>();
    const self = this.deps.locality ?? policy.locality;
    for (const [name, up] of Object.entries(policy.upstreams)) {
      // A locality-aware upstream's tiers depend on where the sidecar is: a new place is a new definition.
      const hash = this.hashOf(up, up.locality?.enabled ? self ?? null : undefined);
      wanted.set(name, { hash, make: () => UpstreamState.fromPolicy(name, hash, up, this.deps, self, tls.get(name)) });
    }
    if (!policy.upstreams[APP_UPSTREAM]) {
      const app = new URL(policy.listeners.inbound.app);
      const address = app.host.includes(':') ? app.host : `${app.host}:80`;
      const protocol = policy.listeners.inbound.appProtocol;
      const hash = digest({ app: address, protocol });
      wanted.set(APP_UPSTREAM, { hash, make: () => new UpstreamState(APP_UPSTREAM, hash, { ...builtin([makeEndpoint(address)]), protocol }, this.deps) });
    }
    wanted.set(PASSTHROUGH_UPSTREAM, { hash: 'passthrough', make: () => new UpstreamState(PASSTHROUGH_UPSTREAM, 'passthrough', builtin([]), this.deps) });

    const next = new Map<string, UpstreamState>();
    const created: UpstreamState[] = [];
    for (const [name, { hash, make }] of wanted) {
      const live = this.states.get(name);
      if (live && live.hash === hash) next.set(name, live);
      else { const s = make(); created.push(s); next.set(name, s); }
    }
    return {
      states: next,
      created: created.map((s) => s.name),
      commit: () => {
        for (const [name, live] of this.states) if (next.get(name) !== live) live.dispose();
        this.states = next;
        for (const s of created) s.activate();
      },
      abort: () => { for (const s of created) s.dispose(); },
    };
  }

  /** The definition hash of `up` (with the sidecar's place `self` when its tiers depend on it). */
  private hashOf(up: object, self: unknown): string {
    const held = this.hashes.get(up);
    if (held && held.self === self) return held.hash;
    const hash = digest(self === undefined ? up : { up, self });
    this.hashes.set(up, { self, hash });
    return hash;
  }

  /** Every live upstream, for /clusters. */
  all(): IterableIterator<UpstreamState> {
    return this.states.values();
  }

  get(name: string): UpstreamState | undefined {
    return this.states.get(name);
  }

  dispose(): void {
    for (const state of this.states.values()) state.dispose();
    this.states.clear();
  }
}

const NO_TLS: ReadonlyMap<string, UpstreamTls> = new Map();

/** The built-in upstreams (the app, passthrough): the policy's connection-pool defaults, round-robin. */
function builtin(endpoints: Endpoint[]): UpstreamDefinition {
  return {
    endpoints, subsets: {}, loadBalancer: 'round-robin',
    pool: { maxConnections: 1024, maxPendingRequests: 1024, connectTimeout: 5000, idleTimeout: 4000 },
  };
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}
