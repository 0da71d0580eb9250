/**
 * Fault injection (SPEC §5). `on: request` (the default) is a layer above the retries: applied once,
 * delay first (flag `DI`) then abort (flag `FI`), never retried — it tests the caller. `on: attempt`
 * is applied inside each try (attempt.ts), so retries, breakers and outlier detection see it.
 */
import type { Layer, ProxyRequest, ProxyResponse, RequestContext } from '../core/context.js';
import { addFlag } from '../core/context.js';
import type { ProxyEvents } from '../core/events.js';
import { mergeDecisions, NO_FAULT, type FaultDecision, type FaultPolicy, type RuntimeFaults } from '../resilience/index.js';
import { grpcAnswer, grpcStatusForHttp, isGrpc } from '../core/grpc.js';
import { delay, clientSignal } from './signal.js';

export function faultLayer(route: string, upstream: string, policy: FaultPolicy | undefined, faults: RuntimeFaults, events: ProxyEvents): Layer {
  return (next) => (req, ctx) => {
    const runtime = faults.decide(route, upstream, 'request');
    const decision = policy ? mergeDecisions([policy.decide(), runtime]) : runtime;
    // The common case (no fault drawn) adds no promise or microtask of its own.
    if (decision === NO_FAULT || (!decision.delayMs && !decision.abortStatus)) return next(req, ctx);
    return inject(decision, route, req, ctx, events, next);
  };
}

async function inject(decision: FaultDecision, route: string, req: ProxyRequest, ctx: RequestContext,
  events: ProxyEvents, next: (req: ProxyRequest, ctx: RequestContext) => Promise<ProxyResponse>): Promise<ProxyResponse> {
  if (decision.delayMs) await applyDelay(decision.delayMs, route, req, ctx, events);
  if (decision.abortStatus) return faultResponse(decision, route, req, ctx, events);
  return next(req, ctx);
}

export async function applyDelay(ms: number, route: string, req: ProxyRequest, ctx: RequestContext, events: ProxyEvents): Promise<void> {
  addFlag(ctx, 'DI');
  events.faultInjected(route, 'delay');
  await delay(ms, clientSignal(req));
}

/**
 * The injected abort: the fault's HTTP status with the sidecar's JSON body, or — for a gRPC request
 * (SPEC §11) — a trailers-only gRPC answer with the fault's `grpcStatus` (else the gRPC status its
 * HTTP status maps to).
 */
export function faultResponse(decision: FaultDecision, route: string, req: ProxyRequest, ctx: RequestContext, events: ProxyEvents): ProxyResponse {
  addFlag(ctx, 'FI');
  events.faultInjected(route, 'abort');
  const status = decision.abortStatus!;
  if (isGrpc(req.headers['content-type'])) return grpcAnswer(decision.abortGrpcStatus ?? grpcStatusForHttp(status), 'fault injected');
  const body = Buffer.from(JSON.stringify({ error: 'fault injected', flags: 'FI' }));
  return { status, headers: { 'content-type': 'application/json', 'content-length': String(body.length) }, body };
}
