/**
 * Fault injection decisions (SPEC §5): a delay of `fixed` ms in `percent` of requests, an abort with
 * `status` in `percent` of requests. The two draws are independent (Envoy's fault filter), so with
 * both at 10% about 1% of requests are delayed *and* aborted; the proxy applies the delay first.
 * A percentage hits when `random() × 100 < percent`, so 0 never fires, 100 always does, and
 * fractions (0.5 = one request in 200) work. `random` is injectable for statistical tests.
 */
import type { RandomSource } from './clock.js';

export interface FaultSpec {
  /** Delay `fixed` ms (≥ 0) in `percent` (0–100) of requests. */
  delay?: { readonly fixed: number; readonly percent: number } | undefined;
  /**
   * Answer `status` (200–599) without calling the upstream in `percent` (0–100) of requests; a gRPC
   * request gets `grpcStatus` when set (SPEC §11), else the gRPC status `status` maps to.
   */
  abort?: { readonly status: number; readonly grpcStatus?: number | undefined; readonly percent: number } | undefined;
}

/** What to inject into one request (or one try); an empty object means nothing. */
export interface FaultDecision {
  readonly delayMs?: number;
  readonly abortStatus?: number;
  /** The gRPC status of the abort, when the fault names one (`abort.grpcStatus`). */
  readonly abortGrpcStatus?: number;
}

export const NO_FAULT: FaultDecision = Object.freeze({});

export class FaultPolicy {
  private readonly spec: FaultSpec;
  private readonly random: RandomSource;

  constructor(spec: FaultSpec, random: RandomSource = Math.random) {
    this.spec = spec;
    this.random = random;
  }

  decide(): FaultDecision {
    const { delay, abort } = this.spec;
    const delayed = delay !== undefined && this.hits(delay.percent);
    const aborted = abort !== undefined && this.hits(abort.percent);
    if (!delayed && !aborted) return NO_FAULT;
    return {
      ...(delayed ? { delayMs: delay.fixed } : {}),
      ...(aborted ? { abortStatus: abort.status } : {}),
      ...(aborted && abort.grpcStatus !== undefined ? { abortGrpcStatus: abort.grpcStatus } : {}),
    };
  }

  private hits(percent: number): boolean {
    // Skip the draw at the ends, so 0 and 100 hold for any random source.
    if (percent <= 0) return false;
    if (percent >= 100) return true;
    return this.random() * 100 < percent;
  }
}

/**
 * Combines decisions of several faults that apply to one request (the route's own and runtime
 * ones): delays add up, the first abort wins.
 */
export function mergeDecisions(decisions: readonly FaultDecision[]): FaultDecision {
  let delayMs: number | undefined;
  let abortStatus: number | undefined;
  let abortGrpcStatus: number | undefined;
  for (const d of decisions) {
    if (d.delayMs !== undefined) delayMs = (delayMs ?? 0) + d.delayMs;
    if (abortStatus === undefined && d.abortStatus !== undefined) {
      abortStatus = d.abortStatus;
      abortGrpcStatus = d.abortGrpcStatus;
    }
  }
  if (delayMs === undefined && abortStatus === undefined) return NO_FAULT;
  return {
    ...(delayMs === undefined ? {} : { delayMs }), ...(abortStatus === undefined ? {} : { abortStatus }),
    ...(abortGrpcStatus === undefined ? {} : { abortGrpcStatus }),
  };
}
