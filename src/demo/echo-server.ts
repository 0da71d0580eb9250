/**
 * The demo's upstreams: tiny echo services that answer with their version, so `npm start` shows a
 * real canary split. Also used by the benchmark as a fixed-cost upstream.
 */
import http from '../core/node-http.js';
import type { Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export async function startEchoServer(version: string, port: number, host = '127.0.0.1'): Promise<Server> {
  const server = http.createServer((req, res) => {
    req.on('error', () => {});
    res.on('error', () => {});
    let bytes = 0;
    req.on('data', (chunk: Buffer) => { bytes += chunk.length; });
    req.on('end', () => {
      const body = JSON.stringify({ version, method: req.method, path: req.url, host: req.headers.host, bodyBytes: bytes, requestId: req.headers['x-request-id'] });
      res.writeHead(200, { 'content-type': 'application/json', 'x-version': version, 'content-length': Buffer.byteLength(body) + 1 });
      res.end(`${body}\n`);
    });
  });
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}

export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}
