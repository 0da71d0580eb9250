/**
 * Raw TCP clients for edge tests: send exact bytes (malformed heads, pipelines, trickles), collect
 * everything the sidecar answers, and split it into HTTP/1.1 responses.
 */
import net from 'node:net';
import { once } from 'node:events';

export interface RawConnection {
  readonly socket: net.Socket;
  /** Every byte received so far. */
  received(): Buffer;
  /** Resolves when the sidecar closed (or reset) the connection, with ms since connect. */
  readonly closed: Promise<number>;
}

export async function connectRaw(port: number): Promise<RawConnection> {
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  const start = performance.now();
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(performance.now() - start)));
  await once(socket, 'connect');
  return { socket, received: () => Buffer.concat(chunks), closed };
}

/**
 * Sends `bytes` and resolves with the answer once the sidecar closes or `waitMs` passes. With
 * `halfClose` the client then sends FIN — node:http (and so the sidecar) takes that as the client
 * leaving, aborting a request still in flight — so by default it does not: use `connection: close`.
 */
export async function exchange(port: number, bytes: string | Buffer, opts: { waitMs?: number; halfClose?: boolean } = {}): Promise<{ data: Buffer; closed: boolean }> {
  const c = await connectRaw(port);
  c.socket.write(bytes);
  if (opts.halfClose) c.socket.end();
  const closed = await Promise.race([c.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), opts.waitMs ?? 3000))]);
  c.socket.destroy();
  return { data: c.received(), closed };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/**
 * Splits bytes into the complete HTTP/1.1 responses they hold (Content-Length or chunked bodies;
 * a response without either, e.g. 204/304, has none). `rest` is what follows the last complete one.
 */
export function parseResponses(data: Buffer): { responses: RawResponse[]; rest: Buffer } {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const lines = data.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1]);
    if (!Number.isFinite(status)) break;
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    let pos = end + 4;
    let body: Buffer;
    if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const eol = data.indexOf('\r\n', pos);
        if (eol < 0) break;
        const size = parseInt(data.subarray(pos, eol).toString('latin1'), 16);
        if (!Number.isFinite(size)) break;
        if (size === 0) {
          const trailerEnd = data.indexOf('\r\n\r\n', eol);
          if (trailerEnd < 0) break;
          pos = trailerEnd + 4;
          complete = true;
          break;
        }
        if (eol + 2 + size + 2 > data.length) break;
        parts.push(data.subarray(eol + 2, eol + 2 + size));
        pos = eol + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(parts);
    } else {
      const length = Number(headers['content-length'] ?? 0);
      if (pos + length > data.length) break;
      body = data.subarray(pos, pos + length);
      pos += length;
    }
    responses.push({ status, headers, body });
    at = pos;
  }
  return { responses, rest: data.subarray(at) };
}
