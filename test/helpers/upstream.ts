/** Real upstream servers on 127.0.0.1:0 for integration tests. */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';

export interface Upstream {
  readonly server: http.Server;
  readonly port: number;
  readonly address: string;
  /** Requests seen, in arrival order. */
  readonly seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; socket: Socket }>;
  readonly sockets: Set<Socket>;
  close(): Promise<void>;
}

export async function startUpstream(handler: http.RequestListener = echo, options: http.ServerOptions = {}): Promise<Upstream> {
  const seen: Upstream['seen'] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer(options, (req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, socket: req.socket });
    req.on('error', () => {});
    res.on('error', () => {});
    handler(req, res);
  });
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    server, port, address: `127.0.0.1:${port}`, seen, sockets,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Answers with the request echoed as JSON, after reading the whole body. */
export const echo: http.RequestListener = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bodyBytes: Buffer.concat(chunks).length });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
};

/** An address nothing listens on: bind a port, then close it. */
export async function deadAddress(): Promise<string> {
  const server = http.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return `127.0.0.1:${port}`;
}
