/**
 * Resilience state machines (SPEC §5, issue 4): pure, clock-driven, event-emitting. Nothing here
 * imports the proxy, the pipeline or telemetry; the pipeline's layers call these and turn their
 * events into metrics and logs. Library use is wrapped here: opossum (circuit-breaker.ts), cockatiel
 * (backoff.ts), node-cache (runtime-faults.ts).
 */
export { systemClock, type Clock, type RandomSource } from './clock.js';
export { ResilienceError, CircuitOpenError, PoolOverflowError } from './errors.js';
export { outcomeFromFlag, isUpstreamFailure, isGatewayError, type Outcome, type ErrorKind } from './outcome.js';

export { BucketTicker } from './bucket-ticker.js';
export { DeadlineQueue, Deadline, tryDeadlines } from './deadline-queue.js';
export {
  CircuitBreaker, breakerStateCode, Admission,
  type CircuitBreakerOptions, type CircuitBreakerDeps, type CircuitBreakerEvents, type BreakerState,
  type BreakerTransition, type BreakerStats, type Settled, type FailureClassifier,
} from './circuit-breaker.js';

export {
  OutlierDetector,
  type OutlierDetectionOptions, type OutlierDetectorEvents, type EjectionEvent, type EjectionReason, type EndpointOutlierState,
} from './outlier-detector.js';

export {
  HealthChecker,
  type HealthCheckOptions, type HealthCheckerEvents, type HealthChange, type EndpointHealth, type Probe,
} from './health-checker.js';

export { ConnectionPool, type ConnectionPoolOptions, type ConnectionPoolEvents, type Release } from './connection-pool.js';

export { RetryBudget, type RetryBudgetOptions, type RetryBudgetView } from './retry-budget.js';
export { RetryBackoff, BackoffSequence, parseRetryAfter, type BackoffOptions } from './backoff.js';
export { shouldRetry, retryVerdict, retriableBy, isIdempotent, type RetryOn, type RetryConditions } from './retry-conditions.js';
export {
  RetryLoop,
  type RetryLoopOptions, type Attempt, type TryReport, type RunOptions, type RetryInfo, type RetryResult, type StopReason, type SkipReason,
} from './retry-loop.js';

export { FaultPolicy, mergeDecisions, NO_FAULT, type FaultSpec, type FaultDecision } from './fault-policy.js';
export {
  RuntimeFaults,
  type RuntimeFault, type RuntimeFaultInput, type RuntimeFaultsOptions, type RuntimeFaultsEvents, type FaultStage,
} from './runtime-faults.js';
export { OverloadMonitor, heapSample, fullCollection, type OverloadDeps, type OverloadOptions, type MemorySample, type OverloadChange, type OverloadEvents } from './overload.js';
