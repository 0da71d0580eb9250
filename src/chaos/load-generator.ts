/**
 * Drives a `load:` through the sidecar. Open-loop (`rate`): request i is due at t0 + i/rate whatever
 * happened to earlier ones, and its latency counts from that due time — if the sidecar stalls, the
 * requests that should have gone out meanwhile show the stall, instead of being silently not sent
 * (the coordinated-omission trap of closed-loop tools). Closed-loop (`concurrency`): that many
 * requests in flight, latency from the actual send.
 */
import http from '../core/node-http.js';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import type { LoadSpec, RequestTemplate } from './load-schema.js';
import { sendRequest } from './request-sender.js';
import type { RequestSample } from './samples.js';

export interface LoadOptions {
  readonly spec: LoadSpec;
  readonly target: URL;
  /** Several sidecars (a fleet environment): request i goes to `targets[i % n]`. Default `[target]`. */
  readonly targets?: readonly URL[];
  /** `performance.now()` of the load's start; injections are timed against the same origin. Default: now. */
  readonly t0?: number;
  /** Stops sending; requests in flight are cut. */
  readonly signal?: AbortSignal;
  readonly onSample?: (s: RequestSample) => void;
  readonly random?: () => number;
}

export async function runLoad(o: LoadOptions): Promise<RequestSample[]> {
  const t0 = o.t0 ?? performance.now();
  const samples: RequestSample[] = [];
  // Keep-alive as an application would; plenty of sockets so the client never queues on its own side.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const abort = (): void => agent.destroy();
  o.signal?.addEventListener('abort', abort, { once: true });
  const pick = templatePicker(o.spec.requests, o.random ?? Math.random);
  const targets = o.targets && o.targets.length > 0 ? o.targets : [o.target];
  const fire = async (seq: number, dueAt: number): Promise<void> => {
    const from = o.spec.rate !== undefined ? dueAt : performance.now();
    const sidecar = seq % targets.length;
    const sentAt = performance.now() - t0;
    const r = await sendRequest({ agent, target: targets[sidecar]!, template: pick(), seq, timeoutMs: o.spec.timeout, ...(o.random ? { random: o.random } : {}) });
    const sample: RequestSample = { seq, scheduledAt: from - t0, latency: performance.now() - from, sidecar, sentAt, ...r };
    samples.push(sample);
    o.onSample?.(sample);
  };
  try {
    if (o.spec.rate !== undefined) await openLoop(o.spec.rate, o.spec, t0, fire, o.signal);
    else await closedLoop(o.spec.concurrency ?? 1, o.spec, t0, fire, o.signal);
  } finally {
    o.signal?.removeEventListener('abort', abort);
    agent.destroy();
  }
  return samples.sort((a, b) => a.seq - b.seq);
}

type Fire = (seq: number, dueAt: number) => Promise<void>;

async function openLoop(rate: number, spec: LoadSpec, t0: number, fire: Fire, signal?: AbortSignal): Promise<void> {
  const interval = 1000 / rate;
  const inflight = new Set<Promise<void>>();
  for (let seq = 0; !signal?.aborted; seq++) {
    const offset = seq * interval;
    if ((spec.duration !== undefined && offset >= spec.duration) || (spec.count !== undefined && seq >= spec.count)) break;
    const wait = t0 + offset - performance.now();
    if (wait >= 1) {
      try { await sleep(wait, undefined, signal ? { signal } : {}); } catch { break; }
    } else if (seq % 32 === 0) {
      await yieldToLoop(); // behind schedule: catch up, but let answers in meanwhile
    }
    const p = fire(seq, t0 + offset);
    inflight.add(p);
    void p.then(() => inflight.delete(p));
  }
  await Promise.all(inflight);
}

async function closedLoop(concurrency: number, spec: LoadSpec, t0: number, fire: Fire, signal?: AbortSignal): Promise<void> {
  let next = 0;
  const more = (): boolean => !signal?.aborted
    && (spec.count === undefined || next < spec.count)
    && (spec.duration === undefined || performance.now() - t0 < spec.duration);
  const worker = async (): Promise<void> => {
    while (more()) {
      await fire(next++, performance.now());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

function templatePicker(templates: readonly RequestTemplate[], random: () => number): () => RequestTemplate {
  if (templates.length === 1) return () => templates[0]!;
  const total = templates.reduce((a, t) => a + t.weight, 0);
  return () => {
    let x = random() * total;
    for (const t of templates) if ((x -= t.weight) < 0) return t;
    return templates[templates.length - 1]!;
  };
}
