/**
 * `pilotfish explain FILE`: builds the policy's snapshot the way the sidecar would — without
 * listening, connecting or starting health checks — and explains one request against it.
 */
import { createLogger } from '../log.js';
import { loadPolicyFile, type Diagnostic } from '../config/index.js';
import { NO_EVENTS } from '../core/events.js';
import { buildSnapshot } from '../pipeline/build.js';
import { OFFLINE_ENGINE } from '../proxy/engine.js';
import { BucketTicker, RuntimeFaults } from '../resilience/index.js';
import { UpstreamRegistry } from '../upstreams/index.js';
import { detachedFleetLimiter, RateLimiterRegistry } from '../ratelimit/index.js';
import type { Locality } from '../routing/index.js';
import { explainRequest, type ExplainRequest, type ExplainResult } from './explain.js';

/** `locality`: the sidecar's place when it overrides the policy's (`--locality`, `PILOTFISH_LOCALITY`). */
export async function explainFile(file: string, req: ExplainRequest, locality?: Locality): Promise<{ ok: true; result: ExplainResult } | { ok: false; errors: Diagnostic[] }> {
  const loaded = await loadPolicyFile(file);
  if (!loaded.ok) return { ok: false, errors: loaded.errors };
  const ticker = new BucketTicker();
  const faults = new RuntimeFaults();
  const engine = OFFLINE_ENGINE;
  const plan = new UpstreamRegistry({ ticker, engine, events: NO_EVENTS, locality }).plan(loaded.policy);
  try {
    await Promise.all(plan.created.map((name) => plan.states.get(name)!.ready()));
    // A fleet-wide limit is explained without a fleet: its scope, and the local bucket it falls back to.
    const rateLimits = new RateLimiterRegistry({ fleet: detachedFleetLimiter });
    const snapshot = buildSnapshot(loaded.policy, loaded.source, 1, { states: plan.states, engine, log: createLogger('silent'), events: NO_EVENTS, faults, rateLimits });
    return { ok: true, result: explainRequest(snapshot, req) };
  } finally {
    plan.abort(); // nothing was committed: dispose every state the plan made
    faults.dispose();
    ticker.dispose();
  }
}
