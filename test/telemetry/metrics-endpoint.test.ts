/**
 * `/metrics` on the real telemetry listener (health-server.ts with `metricsRoute`), over a socket.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Metrics, createHealthServer, metricsRoute } from '../../src/telemetry/index.js';

const servers: http.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) { s.closeAllConnections(); s.close(); }
});

async function start(metrics: Metrics): Promise<number> {
  const server = createHealthServer({ live: () => true, ready: () => true }, [metricsRoute(metrics.registry)]);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /metrics', () => {
  it('serves the registry in the Prometheus text format beside the health probes', async () => {
    const metrics = new Metrics();
    for (let i = 0; i < 150; i++) metrics.requestEnd({ direction: 'inbound', route: 'inbound|app', upstream: 'app', subset: '', flags: [] }, 200, 0.001);
    for (let i = 0; i < 50; i++) metrics.requestEnd({ direction: 'inbound', route: 'inbound|app', upstream: 'app', subset: '', flags: [] }, 500, 0.001);
    metrics.generation(2);
    const port = await start(metrics);

    const res = await get(port, '/metrics?debug=1');
    expect(res.status).toBe(200);
    expect(res.type).toBe(metrics.registry.contentType);
    const labels = 'direction="inbound",route="inbound|app",upstream="app",subset=""';
    expect(res.body).toContain(`pilotfish_requests_total{${labels},code="200",flags=""} 150\n`);
    expect(res.body).toContain(`pilotfish_requests_total{${labels},code="500",flags=""} 50\n`);
    expect(res.body).toContain(`pilotfish_request_duration_seconds_count{${labels}} 200\n`);
    expect(res.body).toContain('pilotfish_config_generation 2\n');
    expect(res.body).toContain('# TYPE process_cpu_seconds_total counter');

    expect((await get(port, '/healthz/ready')).status).toBe(200);
    expect((await get(port, '/nope')).status).toBe(404);
    const head = await get(port, '/metrics', 'HEAD');
    expect([head.status, head.body]).toEqual([200, '']);
    expect((await get(port, '/metrics', 'POST')).status).toBe(405);
  });
});
