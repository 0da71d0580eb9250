/**
 * WebSockets over HTTP/2 (RFC 8441 extended CONNECT) through the real sidecar: a node:http2 client
 * opens `:method: CONNECT`, `:protocol: websocket` on the outbound port, the sidecar routes it and
 * upgrades to a real `ws` WebSocketServer over HTTP/1.1; the client speaks WebSocket frames with
 * ws's own Sender and Receiver (masked, as a client must). Echo both ways (a subprotocol chosen, a
 * 1 MiB binary message), a close from either side ending the stream, and the refusals: no route,
 * a plain CONNECT, a server that ignores the Upgrade, a dead endpoint, one that never answers.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import * as ws from 'ws';
import { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { Sidecar } from '../src/sidecar.js';
import { Telemetry } from '../src/telemetry/index.js';
import { waitFor } from './helpers/http.js';
import { TEST_ENGINE, testListeners, writePolicy } from './helpers/sidecar.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

/** ws's own frame writer and parser (exported by ws, left out of its type declarations). */
interface Sender {
  send(data: Buffer, options: { binary: boolean; fin: boolean; mask: boolean; compress: boolean; rsv1: boolean }, cb: () => void): void;
  close(code: number, reason: string, mask: boolean, cb: () => void): void;
}
interface Receiver extends NodeJS.WritableStream { on(event: string, fn: (...args: never[]) => void): this }
const { Sender, Receiver } = ws as unknown as {
  Sender: new (socket: NodeJS.WritableStream) => Sender;
  Receiver: new (options: { isServer: boolean }) => Receiver;
};

let wsServer: http.Server;
let wss: WebSocketServer;
let plain: Upstream;
/** Takes connections and never answers. */
let silent: net.Server;
let sidecar: Sidecar;
const seen: Array<{ url: string; host: string }> = [];
const sessions: http2.ClientHttp2Session[] = [];
/** What the access log wrote. */
const accessLines: string[] = [];

beforeAll(async () => {
  wsServer = http.createServer();
  wss = new WebSocketServer({ server: wsServer, handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false) });
  wss.on('connection', (ws, req) => {
    seen.push({ url: req.url ?? '', host: req.headers.host ?? '' });
    ws.on('message', (data, isBinary) => {
      if (!isBinary && data.toString() === 'bye') ws.close(1000, 'server says bye');
      else ws.send(data, { binary: isBinary });
    });
  });
  await new Promise<void>((r) => wsServer.listen(0, '127.0.0.1', r));
  silent = net.createServer((socket) => socket.on('error', () => {}));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  plain = await startUpstream(); // answers every request with 200 JSON: it ignores an Upgrade
  const dead = await startUpstream();
  const deadAddress = dead.address;
  await dead.close();
  const telemetry = await Telemetry.create({ accessLog: { destination: { write: (line: string) => { accessLines.push(line); } } } });
  const policyFile = await writePolicy(`version: 1
${testListeners()}
upstreams:
  ws: { endpoints: [{ address: "127.0.0.1:${(wsServer.address() as AddressInfo).port}" }] }
  plain: { endpoints: [{ address: "${plain.address}" }] }
  dead: { endpoints: [{ address: "${deadAddress}" }], connectionPool: { connectTimeout: 1s } }
  silent: { endpoints: [{ address: "127.0.0.1:${(silent.address() as AddressInfo).port}" }] }
routes:
  - { name: ws, match: { host: ws.svc }, to: [{ upstream: ws }] }
  - { name: plain, match: { host: plain.svc }, to: [{ upstream: plain }] }
  - { name: dead, match: { host: dead.svc }, to: [{ upstream: dead }] }
  - { name: silent, match: { host: silent.svc }, to: [{ upstream: silent }], timeout: 300ms }
`);
  sidecar = await Sidecar.start({ policyFile, log: createLogger('silent'), engine: TEST_ENGINE, telemetry, watch: false });
});

afterAll(async () => {
  for (const s of sessions) s.destroy();
  await sidecar?.close();
  for (const c of wss?.clients ?? []) c.terminate();
  wss?.close();
  await new Promise<void>((r) => (wsServer ? wsServer.close(() => r()) : r()));
  await plain?.close();
  silent?.close();
});

async function connect(): Promise<http2.ClientHttp2Session> {
  const s = http2.connect(`http://127.0.0.1:${sidecar.ports.outbound}`);
  s.on('error', () => {});
  sessions.push(s);
  await new Promise<void>((resolve, reject) => { s.once('remoteSettings', () => resolve()); s.once('error', reject); });
  return s;
}

interface Tunnel {
  status: number;
  headers: http2.IncomingHttpHeaders;
  stream: http2.ClientHttp2Stream;
  sender: Sender;
  messages: Array<{ data: Buffer; binary: boolean }>;
  closed: { code: number; reason: string } | undefined;
  ended: boolean;
}

/** An extended CONNECT for a WebSocket to `authority`; resolves at the response headers. */
function open(session: http2.ClientHttp2Session, authority: string, extra: http2.OutgoingHttpHeaders = {}): Promise<Tunnel> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':path': '/chat?room=1', ':authority': authority,
      'sec-websocket-version': '13', ...extra,
    });
    const receiver = new Receiver({ isServer: false });
    const t: Tunnel = { status: 0, headers: {}, stream, sender: new Sender(stream), messages: [], closed: undefined, ended: false };
    receiver.on('message', (data: Buffer, binary: boolean) => t.messages.push({ data: Buffer.from(data), binary }));
    receiver.on('conclude', (code: number, reason: Buffer) => {
      t.closed = { code, reason: reason.toString() };
      t.sender.close(code, '', true, () => {}); // a client answers a close with its own (RFC 6455 §5.5.1)
    });
    receiver.on('error', () => {});
    stream.on('response', (h) => { t.status = Number(h[':status']); t.headers = h; resolve(t); });
    stream.on('data', (c: Buffer) => { if (t.status === 200) receiver.write(c); });
    stream.on('end', () => { t.ended = true; });
    stream.on('close', () => { t.ended = true; });
    stream.on('error', reject);
  });
}

const send = (t: Tunnel, data: string | Buffer, binary = false): void => t.sender.send(Buffer.from(data), { binary, fin: true, mask: true, compress: false, rsv1: false }, () => {});

describe('WebSockets over HTTP/2 (RFC 8441)', () => {
  it('the edge announces extended CONNECT; a WebSocket echoes both ways through the sidecar, subprotocol chosen by the server', async () => {
    const session = await connect();
    expect(session.remoteSettings.enableConnectProtocol).toBe(true);
    const t = await open(session, 'ws.svc', { 'sec-websocket-protocol': 'chat, superchat' });
    expect(t.status).toBe(200);
    expect(t.headers['sec-websocket-protocol']).toBe('chat');
    expect(seen.at(-1)).toEqual({ url: '/chat?room=1', host: 'ws.svc' });
    send(t, 'hello');
    const big = Buffer.alloc(1024 * 1024, 7);
    send(t, big, true);
    send(t, 'world');
    await waitFor(() => t.messages.length === 3, { what: 'three echoed messages' });
    expect(t.messages[0]).toEqual({ data: Buffer.from('hello'), binary: false });
    expect(t.messages[1]!.binary).toBe(true);
    expect(t.messages[1]!.data.equals(big)).toBe(true);
    expect(t.messages[2]!.data.toString()).toBe('world');
  });

  it('the server closing the WebSocket ends the stream; many tunnels share one session', async () => {
    const session = await connect();
    const tunnels = await Promise.all(Array.from({ length: 5 }, () => open(session, 'ws.svc')));
    for (const [i, t] of tunnels.entries()) send(t, `n${i}`);
    await waitFor(() => tunnels.every((t, i) => t.messages[0]?.data.toString() === `n${i}`), { what: 'each tunnel its own echo' });
    const t = tunnels[0]!;
    send(t, 'bye');
    await waitFor(() => t.closed !== undefined && t.ended, { what: 'the close frame and the end of the stream' });
    expect(t.closed).toEqual({ code: 1000, reason: 'server says bye' });
    send(tunnels[1]!, 'still here');
    await waitFor(() => tunnels[1]!.messages.length === 2, { what: 'the other tunnels unaffected' });
  });

  it('the client closing the stream closes the upstream WebSocket', async () => {
    const session = await connect();
    const before = wss.clients.size;
    const t = await open(session, 'ws.svc');
    await waitFor(() => wss.clients.size === before + 1, { what: 'the upstream WebSocket' });
    t.stream.close();
    await waitFor(() => wss.clients.size === before, { what: 'the upstream WebSocket to close' });
  });

  it('the tunnel\'s access-log line counts the bytes both ways: bytesIn from the client, bytesOut from the endpoint', async () => {
    const session = await connect();
    const t = await open(session, 'ws.svc', { ':path': '/counted' });
    send(t, 'hello'); // a masked text frame: 2 bytes of header, 4 of mask, 5 of payload
    await waitFor(() => t.messages.length === 1, { what: 'the echo' });
    t.stream.close();
    const line = await waitFor(() => accessLines.flatMap((l) => l.split('\n')).filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.path === '/counted'), { what: 'the tunnel\'s access line' });
    // The echo unmasked: 2 bytes of header, 5 of payload.
    expect(line).toMatchObject({ status: 200, protocol: 'HTTP/2', bytesIn: 11, bytesOut: 7 });
  });

  it('refuses what it cannot tunnel: no route 404, a plain CONNECT 400, a server ignoring the Upgrade 502, a dead endpoint 503 UF, a silent one 504 UT at the route\'s timeout', async () => {
    const session = await connect();
    expect((await open(session, 'nowhere.svc')).status).toBe(404);
    const plainConnect = await new Promise<number>((resolve, reject) => {
      const s = session.request({ ':method': 'CONNECT', ':authority': 'ws.svc:443' });
      s.on('response', (h) => { resolve(Number(h[':status'])); s.close(); });
      s.on('error', reject);
    });
    expect(plainConnect).toBe(400);
    const ignored = await open(session, 'plain.svc');
    expect([ignored.status, ignored.headers['x-pilotfish-flags']]).toEqual([502, 'UC']);
    const dead = await open(session, 'dead.svc');
    expect([dead.status, dead.headers['x-pilotfish-flags']]).toEqual([503, 'UF']);
    const hung = await open(session, 'silent.svc');
    expect([hung.status, hung.headers['x-pilotfish-flags']]).toEqual([504, 'UT']);
  });
});
