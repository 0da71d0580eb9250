import { afterEach, describe, expect, it } from 'vitest';
import { parsePolicy, PolicyMemory, type Policy } from '../config/index.js';
import { NO_EVENTS } from '../core/events.js';
import { createLogger } from '../log.js';
import { OFFLINE_ENGINE } from '../proxy/engine.js';
import { BucketTicker, RuntimeFaults } from '../resilience/index.js';
import { UpstreamRegistry } from '../upstreams/index.js';
import { buildSnapshot, CompiledParts } from './build.js';

const text = (web: string, api = 'blue') => `version: 1
upstreams:
  blue: { endpoints: [{ address: "127.0.0.1:1" }] }
  green: { endpoints: [{ address: "127.0.0.1:2" }] }
routes:
  - { name: web, match: { host: web }, to: [{ upstream: ${web} }] }
  - { name: api, match: { host: api }, to: [{ upstream: ${api} }] }
`;

describe('buildSnapshot with the last build\'s compiled parts', () => {
  const ticker = new BucketTicker();
  const faults = new RuntimeFaults();
  const registry = new UpstreamRegistry({ ticker, engine: OFFLINE_ENGINE, events: NO_EVENTS });
  afterEach(() => { registry.dispose(); faults.dispose(); ticker.dispose(); });
  const memory = new PolicyMemory();
  const compiled = new CompiledParts();
  const build = (t: string, generation: number) => {
    const loaded = parsePolicy(t, 'p.yaml', {}, undefined, memory);
    if (!loaded.ok) throw new Error('invalid');
    const policy: Policy = loaded.policy;
    const plan = registry.plan(policy);
    const s = buildSnapshot(policy, t, generation, { states: plan.states, engine: OFFLINE_ENGINE, log: createLogger('silent'), events: NO_EVENTS, faults, compiled });
    plan.commit();
    return s;
  };
  const route = (s: ReturnType<typeof build>, host: string) => s.route('outbound', { host, path: '/', method: 'GET', headers: {} } as never)!;

  it('reuses an unchanged route as built, rebuilds the one that changed, and routes the change', () => {
    const a = build(text('blue'), 1);
    const b = build(text('green'), 2);
    expect(route(b, 'api')).toBe(route(a, 'api'));
    expect(route(b, 'web')).not.toBe(route(a, 'web'));
    expect(route(b, 'web').describeDestination({}, '127.0.0.1').split?.[0]?.upstream).toBe('green');
    expect(route(a, 'web').describeDestination({}, '127.0.0.1').split?.[0]?.upstream).toBe('blue');
    // An upstream's state is part of what a route was built on: a changed one rebuilds its routes.
    const c = build(text('green', 'blue').replace('127.0.0.1:1', '127.0.0.1:3'), 3);
    expect(route(c, 'api')).not.toBe(route(b, 'api'));
    expect(route(c, 'web')).toBe(route(b, 'web'));
    expect(a.hash).not.toBe(b.hash); // computed on first read, still the policy's hash
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
  });
});
