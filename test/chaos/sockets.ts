/** Real TCP socket pairs for the toxic proxy tests: a scriptable server and a recording client. */
import net from 'node:net';
import { once } from 'node:events';

export interface TestServer {
  readonly port: number;
  /** Server-side sockets, in accept order. */
  readonly sockets: net.Socket[];
  /** Bytes received per accepted socket. */
  readonly received: Buffer[];
  close(): Promise<void>;
}

/** A TCP server; `onConnection` scripts each accepted socket (default: echo). */
export async function startServer(onConnection: (s: net.Socket) => void = (s) => s.pipe(s)): Promise<TestServer> {
  const sockets: net.Socket[] = [];
  const received: Buffer[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    const i = sockets.push(s) - 1;
    received[i] = Buffer.alloc(0);
    s.on('data', (c: Buffer) => { received[i] = Buffer.concat([received[i]!, c]); });
    s.on('error', () => {});
    onConnection(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port, sockets, received,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export interface TestClient {
  readonly socket: net.Socket;
  readonly chunks: Array<{ data: Buffer; at: number }>;
  readonly data: () => Buffer;
  /** Resolves with the time the peer's FIN arrived. */
  readonly ended: Promise<number>;
  /** Resolves with the socket's error code when it errors (e.g. ECONNRESET). */
  readonly errored: Promise<string>;
  readonly closed: Promise<number>;
}

export async function connect(port: number): Promise<TestClient> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  const chunks: TestClient['chunks'] = [];
  socket.on('data', (data: Buffer) => chunks.push({ data, at: performance.now() }));
  const ended = new Promise<number>((r) => socket.once('end', () => r(performance.now())));
  const errored = new Promise<string>((r) => socket.once('error', (e: NodeJS.ErrnoException) => r(e.code ?? e.message)));
  const closed = new Promise<number>((r) => socket.once('close', () => r(performance.now())));
  await once(socket, 'connect');
  return { socket, chunks, data: () => Buffer.concat(chunks.map((c) => c.data)), ended, errored, closed };
}

/** Polls until the client has received at least `bytes`; returns the time the last byte came. */
export async function receivedBytes(c: TestClient, bytes: number, timeoutMs = 5000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (c.data().length < bytes) {
    if (performance.now() > deadline) throw new Error(`received ${c.data().length}/${bytes} bytes within ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return c.chunks[c.chunks.length - 1]!.at;
}
