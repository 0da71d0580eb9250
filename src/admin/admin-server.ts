/**
 * The admin API (SPEC §7), on 127.0.0.1:15000 by default. JSON in, JSON out, stable shapes (README).
 * Reads are GET; mutations only POST or DELETE (a GET to a mutating path is 405, so a crawler or a
 * stray `curl` cannot reload or drain the sidecar). With a token set, every request must carry
 * `Authorization: Bearer <token>`.
 */
import http from '../core/node-http.js';
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { AdminTarget } from './target.js';
import { configDump, clusters } from './views.js';

type Reply = { status: number; body?: unknown; headers?: OutgoingHttpHeaders };
type Route = { methods: Record<string, (req: IncomingMessage, match: RegExpExecArray, body: string) => Promise<Reply> | Reply> };

const MAX_BODY = 64 * 1024;

export function createAdminServer(target: AdminTarget, token: string | undefined): Server {
  const routes: Array<[RegExp, Route]> = [
    [/^\/config_dump$/, { methods: { GET: () => ({ status: 200, body: configDump(target) }) } }],
    [/^\/clusters$/, { methods: { GET: () => ({ status: 200, body: clusters(target) }) } }],
    [/^\/reload$/, { methods: { POST: async () => {
      const r = await target.reload('admin');
      return { status: r.result === 'error' ? 422 : 200, body: r };
    } } }],
    [/^\/drain$/, { methods: { POST: () => {
      void target.drain();
      return { status: 202, body: { draining: true, inflight: target.inflightRequests } };
    } } }],
    ...target.adminRoutes(),
  ];
  const server = http.createServer((req, res) => {
    req.on('error', () => {});
    res.on('error', () => {});
    void handle(req, res, routes, token);
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}

async function handle(req: IncomingMessage, res: ServerResponse, routes: Array<[RegExp, Route]>, token: string | undefined): Promise<void> {
  let reply: Reply;
  try {
    reply = await dispatch(req, routes, token);
  } catch (err) {
    reply = { status: 500, body: { error: (err as Error).message } };
  }
  const text = reply.body === undefined ? '' : `${JSON.stringify(reply.body, null, 2)}\n`;
  res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...reply.headers });
  res.end(text);
}

async function dispatch(req: IncomingMessage, routes: Array<[RegExp, Route]>, token: string | undefined): Promise<Reply> {
  if (token !== undefined && !authorized(req.headers.authorization, token)) {
    return { status: 401, body: { error: 'missing or wrong bearer token' }, headers: { 'www-authenticate': 'Bearer' } };
  }
  const url = new URL(req.url ?? '/', 'http://admin');
  for (const [pattern, route] of routes) {
    const match = pattern.exec(url.pathname);
    if (!match) continue;
    const method = req.method ?? 'GET';
    const fn = route.methods[method];
    if (!fn) return { status: 405, body: { error: `${method} not allowed on ${url.pathname}` }, headers: { allow: Object.keys(route.methods).join(', ') } };
    const body = method === 'GET' || method === 'DELETE' ? '' : await readBody(req);
    return fn(req, match, body);
  }
  return { status: 404, body: { error: `no admin endpoint ${url.pathname}` } };
}

function authorized(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) { reject(new Error('request body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export type { Reply as AdminReply, Route as AdminRoute };
