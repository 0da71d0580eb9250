/**
 * The telemetry listener (15020): liveness, readiness, and — with the observability work — /metrics.
 * Ready means: a policy is loaded, the data-plane listeners are up, and we are not draining.
 */
import http from '../core/node-http.js';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

export interface HealthState {
  live(): boolean;
  ready(): boolean;
}

export type ExtraRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

export function createHealthServer(state: HealthState, extra: ExtraRoute[] = []): Server {
  const server = http.createServer((req, res) => {
    req.on('error', () => {});
    res.on('error', () => {});
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz/live') return reply(res, state.live() ? 200 : 503, state.live() ? 'live' : 'not live');
    if (path === '/healthz/ready') return reply(res, state.ready() ? 200 : 503, state.ready() ? 'ready' : 'not ready');
    for (const route of extra) if (route(req, res)) return;
    reply(res, 404, 'not found');
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}

function reply(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) + 1 });
  res.end(`${text}\n`);
}
