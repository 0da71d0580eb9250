/**
 * The registry of per-upstream state, keyed by upstream name. `reconcile` is called with each new
 * policy: an upstream whose definition hash is unchanged keeps its state (pooled sockets, and later
 * breakers, ejections and health); a changed one gets fresh state; a removed one is disposed.
 */
import { createHash } from 'node:crypto';
import type { Policy } from '../config/index.js';
import { makeEndpoint } from './endpoint.js';
import { UpstreamState } from './upstream-state.js';

/** The reserved name of the application behind the inbound listener. */
export const APP_UPSTREAM = 'app';
/** Pseudo-upstream for `outboundTrafficPolicy: allow-any` traffic to hosts outside the policy. */
export const PASSTHROUGH_UPSTREAM = 'passthrough';

export class UpstreamRegistry {
  private readonly states = new Map<string, UpstreamState>();

  /** Brings the registry in line with `policy`; returns the states the new snapshot will use. */
  reconcile(policy: Policy): ReadonlyMap<string, UpstreamState> {
    const wanted = new Map<string, () => UpstreamState>();
    const hashes = new Map<string, string>();
    for (const [name, up] of Object.entries(policy.upstreams)) {
      const hash = digest(up);
      hashes.set(name, hash);
      wanted.set(name, () => UpstreamState.fromPolicy(name, hash, up));
    }
    if (!policy.upstreams[APP_UPSTREAM]) {
      const app = new URL(policy.listeners.inbound.app);
      const address = app.host.includes(':') ? app.host : `${app.host}:80`;
      const hash = digest({ app: address });
      hashes.set(APP_UPSTREAM, hash);
      wanted.set(APP_UPSTREAM, () => new UpstreamState(APP_UPSTREAM, hash, [makeEndpoint(address)], {}, DEFAULT_OPTIONS));
    }
    hashes.set(PASSTHROUGH_UPSTREAM, 'passthrough');
    wanted.set(PASSTHROUGH_UPSTREAM, () => new UpstreamState(PASSTHROUGH_UPSTREAM, 'passthrough', [], {}, DEFAULT_OPTIONS));

    for (const [name, state] of this.states) {
      if (hashes.get(name) !== state.hash) {
        state.dispose();
        this.states.delete(name);
      }
    }
    for (const [name, make] of wanted) if (!this.states.has(name)) this.states.set(name, make());
    return new Map(this.states);
  }

  get(name: string): UpstreamState | undefined {
    return this.states.get(name);
  }

  dispose(): void {
    for (const state of this.states.values()) state.dispose();
    this.states.clear();
  }
}

const DEFAULT_OPTIONS = { idleTimeout: 4000, connectTimeout: 5000, maxConnections: 1024 };

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}
