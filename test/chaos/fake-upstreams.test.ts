/**
 * Fake endpoints and the fleet: who answered (x-chaos-instance), body size, error rate, latency,
 * the health path, and kill/restart — through the toxic proxy, whose address never changes.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeEndpoint, INSTANCE_HEADER } from '../../src/chaos/fake-endpoint.js';
import { FakeUpstreams } from '../../src/chaos/fake-upstreams.js';
import { request } from '../helpers/http.js';

const behaviour = { bodySize: 64, healthPath: '/healthz' };
const closers: Array<() => Promise<void>> = [];
afterEach(async () => { for (const c of closers.splice(0)) await c(); });

async function endpoint(b: Partial<FakeEndpoint['behaviour']> = {}): Promise<FakeEndpoint> {
  const e = await FakeEndpoint.start({ upstream: 'reviews', index: 2, behaviour: { ...behaviour, ...b } });
  closers.push(() => e.close());
  return e;
}

describe('FakeEndpoint', () => {
  it('names itself and answers a body of the configured size', async () => {
    const e = await endpoint({ bodySize: 1000 });
    const r = await request(e.port, { path: '/anything', method: 'POST', body: 'ignored' });
    expect(r.status).toBe(200);
    expect(r.headers[INSTANCE_HEADER]).toBe('reviews-2');
    expect(r.headers['x-chaos-upstream']).toBe('reviews');
    expect(r.body.length).toBe(1000);
    expect(e.requests).toBe(1);
  });

  it('fails the configured share of requests with the configured status', async () => {
    const e = await endpoint({ errors: { percent: 30, status: 503 } });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
    const statuses = await Promise.all(Array.from({ length: 600 }, () => request(e.port, { agent }).then((r) => r.status)));
    agent.destroy();
    const failed = statuses.filter((s) => s === 503).length;
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    // Binomial(600, 0.3): mean 180, sd 11.2; ±5 sd.
    expect(failed).toBeGreaterThan(180 - 56);
    expect(failed).toBeLessThan(180 + 56);
  });

  it('answers after the configured latency, but the health path at once', async () => {
    const e = await endpoint({ latency: { fixed: 150 }, errors: { percent: 100, status: 500 } });
    let start = performance.now();
    expect((await request(e.port)).status).toBe(500);
    expect(performance.now() - start).toBeGreaterThanOrEqual(148);
    start = performance.now();
    expect((await request(e.port, { path: '/healthz' })).status).toBe(200);
    expect(performance.now() - start).toBeLessThan(140);
  });

  it('changes behaviour while running', async () => {
    const e = await endpoint();
    e.setBehaviour({ ...e.behaviour, errors: { percent: 100, status: 502 } });
    expect((await request(e.port)).status).toBe(502);
  });

  it('is killed (connection refused) and restarted on a new port', async () => {
    const e = await endpoint();
    const port = e.port;
    await e.kill();
    expect(e.running).toBe(false);
    await expect(request(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await e.restart();
    expect((await request(e.port)).status).toBe(200);
  });
});

describe('FakeUpstreams', () => {
  it('starts replicas behind toxic proxies and kills/restarts them at a stable address', async () => {
    const fleet = await FakeUpstreams.start({
      blue: { replicas: 2, labels: { version: 'blue' }, bodySize: 8, healthPath: '/healthz' },
      green: { replicas: 1, labels: { version: 'green' }, bodySize: 8, healthPath: '/healthz' },
    });
    closers.push(() => fleet.close());
    const table = fleet.table();
    expect(Object.keys(table)).toEqual(['blue', 'green']);
    expect(table.blue!.map((e) => e.labels)).toEqual([{ version: 'blue' }, { version: 'blue' }]);
    const port = (address: string): number => Number(address.split(':')[1]);
    const blue1 = port(table.blue![1]!.address);
    expect((await request(blue1)).headers[INSTANCE_HEADER]).toBe('blue-1');
    expect(fleet.labelsOf('green-0')).toEqual({ version: 'green' });

    await fleet.kill({ upstream: 'blue', index: 1, text: 'blue[1]' });
    await expect(request(blue1)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect((await request(port(table.blue![0]!.address))).status).toBe(200);
    await fleet.restart({ upstream: 'blue', index: 1, text: 'blue[1]' });
    expect((await request(blue1)).headers[INSTANCE_HEADER]).toBe('blue-1');
    expect(fleet.select({ upstream: 'blue', text: 'blue' })).toHaveLength(2);
  });
});
