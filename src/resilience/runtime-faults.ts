/**
 * Faults added while the sidecar runs (admin API `GET|POST /faults`, `DELETE /faults/{id}`), scoped
 * to a route, an upstream, or both, each with a TTL after which it vanishes on its own — a chaos
 * experiment that dies halfway never leaves a fault behind.
 *
 * Entries live in node-cache: reads (`list`, `match`, `get`) drop expired entries exactly, and its
 * housekeeping timer (unref'd, every `checkPeriodMs`, cleared by `dispose()`) emits `expired` for
 * those nobody read. node-cache's TTLs run on the wall clock (`Date.now()`), so `createdAt` and
 * `expiresAt` are epoch ms. Keys are prefixed so a hostile id (`__proto__`) never reaches
 * node-cache's plain-object store.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import NodeCache from 'node-cache';
import type { RandomSource } from './clock.js';
import { FaultPolicy, mergeDecisions, NO_FAULT, type FaultDecision, type FaultSpec } from './fault-policy.js';

export type FaultStage = 'request' | 'attempt';

export interface RuntimeFaultInput extends FaultSpec {
  /** Applies to requests on this route (by name). */
  route?: string | undefined;
  /** Applies to requests to this upstream. With `route` too, both must match. */
  upstream?: string | undefined;
  /** Once per request (default), or on each try below the retry layer. */
  on?: FaultStage | undefined;
  /** Lifetime, ms (> 0). */
  ttl: number;
}

export interface RuntimeFault extends FaultSpec {
  readonly id: string;
  readonly route?: string;
  readonly upstream?: string;
  readonly on: FaultStage;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms after which the fault is gone. */
  readonly expiresAt: number;
}

export interface RuntimeFaultsOptions {
  /** Most faults at once; `add` throws beyond it. Default 100. */
  maxFaults?: number;
  /** Housekeeping period for `expired` events, ms. Default 1 000. */
  checkPeriodMs?: number;
  random?: RandomSource;
}

export interface RuntimeFaultsEvents {
  added: [RuntimeFault];
  removed: [RuntimeFault];
  expired: [RuntimeFault];
}

interface Entry {
  readonly fault: RuntimeFault;
  readonly policy: FaultPolicy;
}

const KEY_PREFIX = 'fault:';

export class RuntimeFaults extends EventEmitter<RuntimeFaultsEvents> {
  private readonly cache: NodeCache;
  private readonly maxFaults: number;
  private readonly random: RandomSource;

  constructor(options: RuntimeFaultsOptions = {}) {
    super();
    this.maxFaults = options.maxFaults ?? 100;
    this.random = options.random ?? Math.random;
    this.cache = new NodeCache({ useClones: false, stdTTL: 0, checkperiod: (options.checkPeriodMs ?? 1000) / 1000 });
    this.cache.on('expired', (_key: string, entry: Entry) => this.emit('expired', entry.fault));
  }

  /** Validates and stores a fault; returns its id. Throws `RangeError` describing a bad input. */
  add(input: RuntimeFaultInput): string {
    const problem = validate(input);
    if (problem) throw new RangeError(problem);
    if (this.entries().length >= this.maxFaults) throw new RangeError(`at most ${this.maxFaults} runtime faults at once`);
    const id = randomUUID();
    const createdAt = Date.now();
    const fault: RuntimeFault = Object.freeze({
      id,
      ...(input.route === undefined ? {} : { route: input.route }),
      ...(input.upstream === undefined ? {} : { upstream: input.upstream }),
      on: input.on ?? 'request',
      ...(input.delay === undefined ? {} : { delay: Object.freeze({ ...input.delay }) }),
      ...(input.abort === undefined ? {} : { abort: Object.freeze({ ...input.abort }) }),
      createdAt,
      expiresAt: createdAt + input.ttl,
    });
    this.cache.set(KEY_PREFIX + id, { fault, policy: new FaultPolicy(fault, this.random) } satisfies Entry, input.ttl / 1000);
    this.emit('added', fault);
    return id;
  }

  get(id: string): RuntimeFault | undefined {
    return this.cache.get<Entry>(KEY_PREFIX + id)?.fault;
  }

  /** Live faults, oldest first. */
  list(): RuntimeFault[] {
    return this.entries().map((e) => e.fault);
  }

  /** Removes a fault; false when there was none (or it had already expired). */
  remove(id: string): boolean {
    const entry = this.cache.take<Entry>(KEY_PREFIX + id);
    if (!entry) return false;
    this.emit('removed', entry.fault);
    return true;
  }

  /** Live faults of `stage` whose scope matches the request's route and upstream. */
  match(route: string, upstream: string, stage: FaultStage): RuntimeFault[] {
    return this.matching(route, upstream, stage).map((e) => e.fault);
  }

  /** The combined decision of every matching fault (`mergeDecisions`); `NO_FAULT` when none. */
  decide(route: string, upstream: string, stage: FaultStage): FaultDecision {
    // The per-request path: with no runtime faults (the usual case) no array either.
    if (this.cache.getStats().keys === 0) return NO_FAULT;
    const entries = this.matching(route, upstream, stage);
    if (entries.length === 0) return NO_FAULT;
    return mergeDecisions(entries.map((e) => e.policy.decide()));
  }

  /** Stops node-cache's housekeeping timer and forgets every fault. */
  dispose(): void {
    // In this order: node-cache's flushAll() restarts the housekeeping timer that close() stops.
    this.cache.flushAll();
    this.cache.close();
  }

  private matching(route: string, upstream: string, stage: FaultStage): Entry[] {
    // The per-request path: with no runtime faults (the usual case) it allocates nothing.
    if (this.cache.getStats().keys === 0) return [];
    return this.entries().filter(({ fault: f }) => f.on === stage
      && (f.route === undefined || f.route === route)
      && (f.upstream === undefined || f.upstream === upstream));
  }

  private entries(): Entry[] {
    // `mget` checks each TTL, dropping (and reporting) expired entries; keys keep insertion order.
    return Object.values(this.cache.mget<Entry>(this.cache.keys()));
  }
}

function validate(input: RuntimeFaultInput): string | undefined {
  if (input.route === undefined && input.upstream === undefined) return 'a runtime fault needs a route or an upstream';
  if (input.delay === undefined && input.abort === undefined) return 'a runtime fault needs a delay or an abort';
  if (!(Number.isFinite(input.ttl) && input.ttl > 0)) return 'ttl must be a positive number of milliseconds';
  if (input.delay && !(Number.isFinite(input.delay.fixed) && input.delay.fixed >= 0)) return 'delay.fixed must be ≥ 0 ms';
  if (input.delay && !isPercent(input.delay.percent)) return 'delay.percent must be within 0–100';
  if (input.abort && !(Number.isInteger(input.abort.status) && input.abort.status >= 200 && input.abort.status <= 599)) return 'abort.status must be an integer within 200–599';
  if (input.abort && !isPercent(input.abort.percent)) return 'abort.percent must be within 0–100';
  return undefined;
}

function isPercent(p: number): boolean {
  return Number.isFinite(p) && p >= 0 && p <= 100;
}
