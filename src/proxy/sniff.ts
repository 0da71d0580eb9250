/**
 * One port, several protocols: tells a new downstream connection's protocol from its first bytes —
 * a TLS ClientHello (record type 0x16), the HTTP/2 connection preface (h2c with prior knowledge), or
 * else HTTP/1.x — and hands the socket, with those bytes put back, to the server for it.
 *
 * The bytes are read while they still match the 24-byte preface, so an HTTP/1 request is told apart
 * at its first byte that differs (`G`, `P` of `POST` matches one byte, …) and an h2c client only
 * once its whole preface is in. What was read goes back with `unshift()` on a paused socket before
 * the socket is handed over (`server.emit('connection', socket)`). Only an HTTP/1 server needs the
 * socket resumed: node:http2 and node:tls read the socket themselves, and resuming it first would
 * lose the unshifted bytes (LIBRARIES.md, verified on Node 24).
 *
 * A connection that sends nothing, or too little to tell, is closed after `timeoutMs` (bytes that
 * arrived while the process was too busy to read them count as in time): the servers behind never
 * `listen()` themselves, so their own header timers never start (LIBRARIES.md).
 */
import type { Socket } from 'node:net';

export type SniffedProtocol = 'http1' | 'h2c' | 'tls';

/** The HTTP/2 client connection preface (RFC 9113 §3.4). */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** TLS record content type `handshake`: the first byte of every ClientHello. */
const TLS_HANDSHAKE = 0x16;

export interface SniffOptions {
  /** Close a connection that has not said enough to tell its protocol within this long (ms). */
  readonly timeoutMs: number;
  /** Which protocols this port serves; a connection speaking another is closed. Default all. */
  readonly accept?: ReadonlySet<SniffedProtocol>;
  /** Called when a connection is closed unclassified: `timeout`, or `refused` (a protocol not accepted). */
  readonly onReject?: (socket: Socket, reason: 'timeout' | 'refused', protocol?: SniffedProtocol) => void;
}

/** Classifies what has been read so far: a protocol, or undefined while it could still be h2c. */
export function classify(head: Buffer): SniffedProtocol | undefined {
  if (head.length === 0) return undefined;
  if (head[0] === TLS_HANDSHAKE) return 'tls';
  const n = Math.min(head.length, H2_PREFACE.length);
  for (let i = 0; i < n; i++) if (head[i] !== H2_PREFACE[i]) return 'http1';
  return head.length >= H2_PREFACE.length ? 'h2c' : undefined;
}

/**
 * Reads the start of `socket` until its protocol is known, then calls `route(protocol, socket)` with
 * the bytes put back and the socket paused (`handOver` resumes it where the server needs that).
 * Errors and closes before then just end the connection.
 */
export function sniff(socket: Socket, options: SniffOptions, route: (protocol: SniffedProtocol, socket: Socket) => void): void {
  let head: Buffer = EMPTY;
  let late: NodeJS.Immediate | undefined;
  // The loop runs due timers before it reads its sockets: after a stall longer than the timeout (a
  // busy process; a cold start under callgrind took ~10 s for the first h2c connection) the timer
  // finds bytes still waiting in the kernel. They are read in this turn's poll, before the check.
  const timer = setTimeout(() => {
    late = setImmediate(() => {
      cleanup();
      options.onReject?.(socket, 'timeout');
      socket.destroy();
    });
  }, options.timeoutMs);
  const onData = (chunk: Buffer): void => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const protocol = classify(head);
    if (protocol === undefined) return;
    cleanup();
    socket.pause();
    socket.unshift(head);
    if (options.accept && !options.accept.has(protocol)) {
      options.onReject?.(socket, 'refused', protocol);
      socket.destroy();
      return;
    }
    route(protocol, socket);
  };
  const onEnd = (): void => { cleanup(); socket.destroy(); };
  function cleanup(): void {
    clearTimeout(timer);
    if (late !== undefined) clearImmediate(late);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('close', onEnd);
  }
  socket.on('error', noop); // the server it is handed to adds its own; until then nothing may throw
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.once('close', onEnd);
}

/**
 * Gives a sniffed socket to the server that speaks its protocol. node:http reads only once resumed;
 * node:http2 and node:tls take over the stream themselves (resuming first loses the unshifted bytes).
 */
export function handOver(server: { emit(event: 'connection', socket: Socket): boolean }, socket: Socket, protocol: SniffedProtocol): void {
  server.emit('connection', socket);
  if (protocol === 'http1') socket.resume();
}

const EMPTY = Buffer.alloc(0);

function noop(): void {}
