/**
 * The retry budget end to end (SPEC §5, issue 13.2): a quiet route spends its reserve on a burst,
 * and every retry the sidecar decides not to make is counted with its reason.
 */
import { writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { Sidecar } from '../src/sidecar.js';
import { request, type Reply } from './helpers/http.js';
import { metricSum, startObserved, testListeners, TEST_ENGINE, writePolicy } from './helpers/sidecar.js';
import { deadAddress, startUpstream } from './helpers/upstream.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const fn of cleanup.splice(0).reverse()) await fn(); });

async function start(policy: string): Promise<{ sidecar: Sidecar; metrics: () => Promise<string> }> {
  const s = await startObserved(policy);
  cleanup.push(() => s.sidecar.close());
  return s;
}

const sum = metricSum;

/** `total` requests, `inFlight` at a time; resolves with every reply in completion order. */
async function burst(send: () => Promise<Reply>, total: number, inFlight: number): Promise<Reply[]> {
  const replies: Reply[] = [];
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < total) {
      started++;
      replies.push(await send());
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return replies;
}

describe('retry budget', () => {
  it('a quiet route retries every connect failure of three bursts onto the healthy endpoint (the issue\'s scenario)', async () => {
    const healthy = await startUpstream((req, res) => { req.resume(); req.on('end', () => res.end('ok')); });
    cleanup.push(() => healthy.close());
    const dead = await deadAddress();
    const { sidecar, metrics } = await start(`version: 1\n${testListeners()}
upstreams:
  u: { endpoints: [{ address: "${dead}" }, { address: "${healthy.address}" }], loadBalancer: round-robin }
routes:
  - name: r
    match: { host: svc }
    to: [{ upstream: u }]
    retries: { attempts: 2, retryOn: [connect-failure], backoff: { base: 5ms, max: 10ms } }
`);
    const post = (): Promise<Reply> => request(sidecar.ports.outbound, { method: 'POST', headers: { host: 'svc', 'content-type': 'text/plain' }, body: 'order=1' });
    for (let b = 0; b < 3; b++) {
      const replies = await burst(post, 20, 4);
      const failed = replies.filter((r) => r.status !== 200).map((r) => `${r.status} ${String(r.headers['x-pilotfish-flags'])}`);
      expect(failed, `burst ${b + 1}`).toEqual([]);
    }
    const text = await metrics();
    const failures = sum(text, 'pilotfish_upstream_attempts_total', { upstream: 'u', outcome: 'connect-failure' });
    expect(failures).toBeGreaterThan(15); // round-robin sends about half the first tries to the dead endpoint
    expect(sum(text, 'pilotfish_retries_total', { route: 'r' })).toBe(failures);
    expect(sum(text, 'pilotfish_retries_skipped_total')).toBe(0);
  });
});

describe('retries skipped, with their reason', () => {
  async function failing(route: string, extraUpstream = '', headers: Record<string, string> = {}): Promise<Awaited<ReturnType<typeof start>> & { seen: () => number }> {
    const u = await startUpstream((req, res) => { req.resume(); req.on('end', () => { res.writeHead(503, headers); res.end('no'); }); });
    cleanup.push(() => u.close());
    const s = await start(`version: 1\n${testListeners()}\nupstreams:\n  u: { endpoints: [{ address: "${u.address}" }]${extraUpstream} }\nroutes:\n${route}`);
    return { ...s, seen: () => u.seen.length };
  }
  const skipped = async (metrics: () => Promise<string>, reason: string): Promise<number> => sum(await metrics(), 'pilotfish_retries_skipped_total', { route: 'r', reason });

  it('budget: a spent budget stops retries (URX), counts each skip, and explain shows it spent', async () => {
    const { sidecar, metrics, seen } = await failing(`  - { name: r, match: { host: svc }, to: [{ upstream: u }], retries: { attempts: 3, retryOn: [5xx], backoff: { base: 1ms, max: 2ms }, budget: { percent: 0, minPerSecond: 0 } } }\n`);
    for (let i = 0; i < 5; i++) {
      const r = await request(sidecar.ports.outbound, { headers: { host: 'svc' } });
      expect([r.status, r.headers['x-pilotfish-flags']]).toEqual([503, 'URX']);
    }
    expect(seen()).toBe(5);
    expect(await skipped(metrics, 'budget')).toBe(5);
    const x = (await request(sidecar.ports.admin, { path: `/explain?url=${encodeURIComponent('http://svc/')}` })).json();
    expect(x.retry.budget).toMatchObject({ percent: 0, minPerSecond: 0, reserve: 0, requests: 5, retries: 0, available: 0 });
    expect(x.retry.skips.map((s: { reason: string }) => s.reason)).toEqual(['budget']);
  });

  it('non-idempotent: a POST answered 503 is not retried, and that is counted', async () => {
    const { sidecar, metrics, seen } = await failing(`  - { name: r, match: { host: svc }, to: [{ upstream: u }], retries: { attempts: 2, retryOn: [5xx], backoff: { base: 1ms, max: 2ms } } }\n`);
    const r = await request(sidecar.ports.outbound, { method: 'POST', headers: { host: 'svc' }, body: 'x' });
    expect([r.status, r.headers['x-pilotfish-flags']]).toEqual([503, undefined]);
    expect(seen()).toBe(1);
    expect(await skipped(metrics, 'non-idempotent')).toBe(1);
  });

  it('body-too-large: a 2 MiB PUT streams once and is not retried', async () => {
    const { sidecar, metrics, seen } = await failing(`  - { name: r, match: { host: svc }, to: [{ upstream: u }], retries: { attempts: 2, retryOn: [5xx], backoff: { base: 1ms, max: 2ms } } }\n`);
    const r = await request(sidecar.ports.outbound, { method: 'PUT', headers: { host: 'svc' }, body: Buffer.alloc(2 * 1024 * 1024, 1) });
    expect(r.status).toBe(503);
    expect(seen()).toBe(1);
    expect(await skipped(metrics, 'body-too-large')).toBe(1);
  });

  it('deadline: a backoff that would end past the route timeout is not waited for (URX)', async () => {
    // Full jitter could draw a delay under 300 ms; the upstream's Retry-After (capped at max) fixes it at 5 s.
    const { sidecar, metrics, seen } = await failing(`  - { name: r, match: { host: svc }, to: [{ upstream: u }], timeout: 300ms, retries: { attempts: 2, retryOn: [5xx], backoff: { base: 5s, max: 5s } } }\n`, '', { 'retry-after': '5' });
    const r = await request(sidecar.ports.outbound, { headers: { host: 'svc' } });
    expect([r.status, r.headers['x-pilotfish-flags']]).toEqual([503, 'URX']);
    expect(seen()).toBe(1);
    expect(await skipped(metrics, 'deadline')).toBe(1);
  });

  it('the budget outlives a reload of an unchanged route, and a changed budget starts afresh', async () => {
    const route = (extra: string, budget = '{ percent: 0, minPerSecond: 1 }'): string =>
      `  - { name: r, match: { host: svc }, to: [{ upstream: u }], retries: { attempts: 1, retryOn: [5xx], backoff: { base: 1ms, max: 2ms }, budget: ${budget} } }\n${extra}`;
    const u = await startUpstream((req, res) => { req.resume(); req.on('end', () => { res.writeHead(503); res.end(); }); });
    cleanup.push(() => u.close());
    const policy = (extra: string, budget?: string): string => `version: 1\n${testListeners()}\nupstreams:\n  u: { endpoints: [{ address: "${u.address}" }] }\nroutes:\n${route(extra, budget)}`;
    const file = await writePolicy(policy(''));
    const sidecar = await Sidecar.start({ policyFile: file, log: createLogger('silent'), engine: TEST_ENGINE, watch: false });
    cleanup.push(() => sidecar.close());
    const spend = async (n: number): Promise<number> => {
      const before = u.seen.length;
      for (let i = 0; i < n; i++) await request(sidecar.ports.outbound, { headers: { host: 'svc' } });
      return u.seen.length - before - n; // retries made
    };
    expect(await spend(15)).toBe(10); // the reserve: 1/s over the 10 s window
    await writeFile(file, policy('  - { name: other, match: { host: other }, to: [{ upstream: u }] }\n'));
    expect((await sidecar.reload('signal')).result).toBe('ok');
    expect(await spend(5)).toBe(0); // same route, same budget: still spent
    await writeFile(file, policy('', '{ percent: 0, minPerSecond: 2 }'));
    expect((await sidecar.reload('signal')).result).toBe('ok');
    expect(await spend(25)).toBe(20); // new settings: a new budget with its own reserve
  });
});
