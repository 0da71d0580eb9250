/**
 * The toxic proxy against real socket pairs: each toxic's effect is measured on the wire — latency
 * within tolerance, a reset seen by the client, bandwidth measured, a blackhole holding data, slices,
 * a data limit, a delayed close — plus kill/restart of the listener.
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ToxicProxy } from '../../src/chaos/toxic-proxy.js';
import type { ToxicSpec, ToxicStream } from '../../src/chaos/toxics.js';
import { waitFor } from '../helpers/http.js';
import { connect, receivedBytes, startServer, type TestServer } from './sockets.js';

let server: TestServer | undefined;
let proxy: ToxicProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  await server?.close();
  proxy = undefined;
  server = undefined;
});

async function setup(onConnection?: (s: net.Socket) => void): Promise<ToxicProxy> {
  server = await startServer(onConnection);
  proxy = await ToxicProxy.start({ targetPort: server.port });
  return proxy;
}

const toxic = (spec: ToxicSpec, stream: ToxicStream = 'downstream', toxicity = 100) => ({ name: spec.type, stream, toxicity, spec });

/** Round trip of one small message through an echo server. */
async function roundTrip(port: number): Promise<number> {
  const c = await connect(port);
  const start = performance.now();
  c.socket.write('ping');
  const at = await receivedBytes(c, 4);
  c.socket.destroy();
  return at - start;
}

describe('ToxicProxy without toxics', () => {
  it('passes bytes both ways unchanged and carries a half-close through', async () => {
    const p = await setup();
    const c = await connect(p.port);
    const payload = Buffer.alloc(300_000, 'abc');
    c.socket.end(payload);
    await receivedBytes(c, payload.length);
    expect(c.data().equals(payload)).toBe(true);
    await c.ended; // the echo server ended after our FIN reached it through the proxy
  });
});

describe('toxics', () => {
  it('latency delays each answer by the latency, within tolerance', async () => {
    const p = await setup();
    p.addToxic(toxic({ type: 'latency', latency: 300, jitter: 0 }));
    const rtts = [await roundTrip(p.port), await roundTrip(p.port), await roundTrip(p.port)];
    for (const rtt of rtts) {
      expect(rtt).toBeGreaterThanOrEqual(298);
      // Room for a busy machine, none for the delay being applied twice (600 ms).
      expect(rtt).toBeLessThan(540);
    }
  });

  it('latency jitter spreads delays within latency ± jitter', async () => {
    const p = await setup();
    p.addToxic(toxic({ type: 'latency', latency: 100, jitter: 60 }, 'upstream'));
    const rtts: number[] = [];
    for (let i = 0; i < 12; i++) rtts.push(await roundTrip(p.port));
    for (const rtt of rtts) {
      expect(rtt).toBeGreaterThanOrEqual(39);
      expect(rtt).toBeLessThan(160 + 100);
    }
    // 12 uniform draws over a 120 ms range: all within 30 ms of each other has probability ~1e-6.
    expect(Math.max(...rtts) - Math.min(...rtts)).toBeGreaterThan(30);
  });

  it('applies a toxic added while a connection is open to that connection', async () => {
    const p = await setup();
    const c = await connect(p.port);
    c.socket.write('a');
    await receivedBytes(c, 1);
    p.addToxic(toxic({ type: 'latency', latency: 120, jitter: 0 }));
    const start = performance.now();
    c.socket.write('b');
    expect((await receivedBytes(c, 2)) - start).toBeGreaterThanOrEqual(118);
    c.socket.destroy();
  });

  it('toxicity 0 spares every connection', async () => {
    const p = await setup();
    p.addToxic(toxic({ type: 'latency', latency: 2000, jitter: 0 }, 'downstream', 0));
    expect(await roundTrip(p.port)).toBeLessThan(1000);
  });

  it('reset_peer: the client sees the connection reset once data flows', async () => {
    const p = await setup();
    p.addToxic(toxic({ type: 'reset_peer', timeout: 0 }, 'upstream'));
    const c = await connect(p.port);
    c.socket.write('hello');
    expect(await c.errored).toBe('ECONNRESET');
  });

  it('bandwidth: throughput matches the rate', async () => {
    const bytes = 48 * 1024;
    const p = await setup((s) => s.once('data', () => s.end(Buffer.alloc(bytes, 'x'))));
    p.addToxic(toxic({ type: 'bandwidth', rate: 96 })); // 48 KB at 96 KB/s: 500 ms
    const c = await connect(p.port);
    const start = performance.now();
    c.socket.write('go');
    const elapsed = (await receivedBytes(c, bytes)) - start;
    expect(elapsed).toBeGreaterThan(400);
    expect(elapsed).toBeLessThan(900);
  });

  it('timeout (blackhole) holds data while active; traffic flows again once it is removed', async () => {
    const p = await setup();
    p.addToxic(toxic({ type: 'timeout', timeout: 0 }, 'upstream'));
    const c = await connect(p.port);
    c.socket.write('lost');
    await waitFor(() => p.bytesIn.upstream >= 4, { what: 'the proxy to read the bytes' });
    await waitFor(() => server!.sockets.length === 1, { what: 'the proxied connection' });
    expect(server!.received[0]!.length).toBe(0);
    expect(c.socket.destroyed).toBe(false);
    p.removeToxic('timeout');
    c.socket.write('found');
    await receivedBytes(c, 5);
    expect(server!.received[0]!.toString()).toBe('found');
    c.socket.destroy();
  });

  it('timeout with a duration closes (FIN) the connection after it, having passed nothing', async () => {
    const p = await setup();
    p.addToxic(toxic({ type: 'timeout', timeout: 200 }, 'upstream'));
    const c = await connect(p.port);
    const start = performance.now();
    c.socket.write('hello');
    const closedAt = await c.ended;
    expect(closedAt - start).toBeGreaterThanOrEqual(180);
    expect(server!.received[0]?.length ?? 0).toBe(0);
    expect(c.data().length).toBe(0);
  });

  it('slicer splits one write into many small ones', async () => {
    const p = await setup((s) => s.once('data', () => s.write(Buffer.alloc(200, 'y'))));
    p.addToxic(toxic({ type: 'slicer', averageSize: 10, sizeVariation: 0, delay: 10 }));
    const c = await connect(p.port);
    c.socket.write('go');
    await receivedBytes(c, 200);
    expect(c.data().equals(Buffer.alloc(200, 'y'))).toBe(true);
    // 20 slices 10 ms apart; a busy client may read a few together, never all in a handful of reads.
    expect(c.chunks.length).toBeGreaterThanOrEqual(6);
    expect(Math.max(...c.chunks.map((ch) => ch.data.length))).toBeLessThanOrEqual(60);
    c.socket.destroy();
  });

  it('limit_data passes exactly N bytes, then closes (FIN)', async () => {
    const p = await setup((s) => s.once('data', () => s.write(Buffer.alloc(5000, 'z'))));
    p.addToxic(toxic({ type: 'limit_data', bytes: 1234 }));
    const c = await connect(p.port);
    c.socket.write('go');
    await c.ended;
    expect(c.data().length).toBe(1234);
    c.socket.destroy();
  });

  it('slow_close delays the FIN, not the data', async () => {
    let endedAt = 0;
    const p = await setup((s) => s.once('data', () => { s.end('bye'); endedAt = performance.now(); }));
    p.addToxic(toxic({ type: 'slow_close', delay: 300 }));
    const c = await connect(p.port);
    c.socket.write('go');
    const dataAt = await receivedBytes(c, 3);
    const finAt = await c.ended;
    expect(dataAt - endedAt).toBeLessThan(150);
    expect(finAt - endedAt).toBeGreaterThanOrEqual(280);
    c.socket.destroy();
  });

  it('removing a toxic restores normal service', async () => {
    const p = await setup();
    p.addToxic(toxic({ type: 'latency', latency: 1000, jitter: 0 }));
    expect(p.removeToxic('latency')).toBe(true);
    expect(await roundTrip(p.port)).toBeLessThan(500);
    expect(p.listToxics()).toEqual([]);
  });
});

describe('disable / enable', () => {
  it('refuses connections while disabled, resets open ones, and listens again on the same port', async () => {
    const p = await setup();
    const open = await connect(p.port);
    const port = p.port;
    await p.disable();
    expect(await open.closed).toBeGreaterThan(0);
    await expect(connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await p.enable();
    expect(p.port).toBe(port);
    expect(await roundTrip(port)).toBeLessThan(500);
  });

  it('listens below the ephemeral port range, so no outgoing connection or listen(0) takes its port while it is down', async () => {
    const [low] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number);
    const first = await setup();
    const ports = [first.port, ...await Promise.all(Array.from({ length: 4 }, async () => {
      const p = await ToxicProxy.start({ targetPort: server!.port });
      await p.close();
      return p.port;
    }))];
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(Math.min(low!, 32_768));
    }
  });

  it('resets the client when the endpoint behind it is gone', async () => {
    const p = await setup();
    await server!.close();
    const c = await connect(p.port);
    expect(await c.errored).toBe('ECONNRESET');
  });
});
