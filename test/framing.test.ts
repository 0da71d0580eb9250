/**
 * Request framing at the edge, on every forwarding engine (found by the HTTP edge fuzzer, issue
 * 13.5): a chunked body is never smuggled upstream as a request of its own, a malformed body never
 * reaches the upstream complete, and a pipeline with a broken request in it answers every request
 * before it, in order, before its 400.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sidecar } from '../src/sidecar.js';
import { connectRaw, parseResponses } from './helpers/raw-http.js';
import { startObserved, testListeners } from './helpers/sidecar.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { waitFor } from './helpers/http.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const fn of cleanup.splice(0).reverse()) await fn(); });

/** Complete requests the upstream saw: x-id → body digest. */
async function setup(): Promise<{ s: Sidecar; u: Upstream; complete: Map<string, string>; aborted: string[] }> {
  const complete = new Map<string, string>();
  const aborted: string[] = [];
  const u = await startUpstream((req, res) => {
    const id = String(req.headers['x-id']);
    const h = createHash('sha256');
    req.on('data', (c: Buffer) => h.update(c));
    req.on('aborted', () => aborted.push(id));
    req.on('end', () => { complete.set(id, h.digest('hex')); res.end(`ok ${id}`); });
  });
  cleanup.push(() => u.close());
  const { sidecar } = await startObserved(`version: 1\n${testListeners()}
upstreams: { u: { endpoints: [{ address: "${u.address}" }] } }
routes:
  - { name: buffered, match: { host: svc, path: { prefix: /r/ } }, to: [{ upstream: u }], retries: { attempts: 1, retryOn: [5xx] } }
  - { name: streamed, match: { host: svc }, to: [{ upstream: u }] }
`);
  cleanup.push(() => sidecar.close());
  return { s: sidecar, u, complete, aborted };
}

/** Writes `bytes` on a fresh connection and collects the answers until `n` arrived or it closed. */
async function send(s: Sidecar, bytes: string, n: number, closes = false): Promise<{ statuses: number[]; bodies: string[]; closed: boolean }> {
  const c = await connectRaw(s.ports.outbound);
  c.socket.write(bytes);
  let closed = false;
  void c.closed.then(() => { closed = true; });
  await waitFor(() => closed || parseResponses(c.received()).responses.length >= n, { what: `${n} answers` });
  // A connection the sidecar is to close after the answers: give it its moment.
  if (closes) await waitFor(() => closed, { timeoutMs: 2000, what: 'the close' }).catch(() => undefined);
  const { responses } = parseResponses(c.received());
  c.socket.destroy();
  return { statuses: responses.map((r) => r.status), bodies: responses.map((r) => r.body.toString()), closed };
}

const chunk = (data: string): string => `${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n`;

describe('request framing', () => {
  for (const method of ['DELETE', 'OPTIONS', 'GET', 'POST'] as const) {
    for (const path of ['/s/x', '/r/x']) {
      it(`a chunked ${method} body on ${path === '/r/x' ? 'a buffered' : 'a streamed'} route reaches the upstream as its body, never as a request of its own`, async () => {
        const { s, complete } = await setup();
        const inner = 'GET /admin HTTP/1.1\r\nhost: svc\r\nx-id: smuggled\r\ncontent-length: 0\r\n\r\n';
        const r = await send(s, `${method} ${path} HTTP/1.1\r\nhost: svc\r\nx-id: outer\r\ntransfer-encoding: chunked\r\n\r\n${chunk(inner)}0\r\n\r\n`, 1);
        expect(r.bodies).toEqual(['ok outer']);
        expect(complete.get('outer')).toBe(createHash('sha256').update(inner).digest('hex'));
        await new Promise((res) => setTimeout(res, 50));
        expect(complete.has('smuggled')).toBe(false);
      });
    }
  }

  it('a bad chunk size in a streaming body: the upstream never gets the request complete, the client gets 400 and a close', async () => {
    const { s, complete, aborted } = await setup();
    const r = await send(s, `POST /s/x HTTP/1.1\r\nhost: svc\r\nx-id: bad\r\ntransfer-encoding: chunked\r\n\r\n${chunk('hello')}zz\r\nmore\r\n0\r\n\r\n`, 1, true);
    expect(r.statuses).toEqual([400]);
    expect(r.closed).toBe(true);
    expect(complete.has('bad')).toBe(false);
    await waitFor(() => aborted.includes('bad') || !complete.has('bad'), { what: 'the upstream request to be aborted' });
  });

  it('a pipeline [good, good, broken head, good]: the two good ones answered in order, then 400, then the connection closes', async () => {
    const { s, complete } = await setup();
    const good = (id: string, path = '/s/a'): string => `POST ${path} HTTP/1.1\r\nhost: svc\r\nx-id: ${id}\r\ncontent-length: 2\r\n\r\nhi`;
    const r = await send(s, `${good('one', '/r/a')}${good('two')}GET /x HTTP/1.1\r\nhost: svc\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n${good('four')}`, 3, true);
    expect(r.statuses).toEqual([200, 200, 400]);
    expect(r.bodies.slice(0, 2)).toEqual(['ok one', 'ok two']);
    expect(r.closed).toBe(true);
    expect(complete.has('four')).toBe(false);
  });

  it('a pipeline with a malformed body in the middle: earlier answers first, its 400, then nothing more', async () => {
    const { s, complete } = await setup();
    const r = await send(s, `GET /r/a HTTP/1.1\r\nhost: svc\r\nx-id: one\r\ncontent-length: 1\r\n\r\na`
      + `PUT /r/b HTTP/1.1\r\nhost: svc\r\nx-id: two\r\ntransfer-encoding: chunked\r\n\r\n${chunk('xyz')}-1\r\n\r\n`
      + `GET /s/c HTTP/1.1\r\nhost: svc\r\nx-id: three\r\n\r\n`, 2);
    expect(r.statuses).toEqual([200, 400]);
    expect(r.bodies[0]).toBe('ok one');
    expect([...complete.keys()]).toEqual(['one']);
  });

  it('a client that leaves in the middle of a large upload on a buffering route crashes nothing (it used to: an unhandled error)', async () => {
    const { s, complete, aborted } = await setup();
    for (let k = 0; k < 3; k++) {
      const c = await connectRaw(s.ports.outbound);
      c.socket.write(`PUT /r/up HTTP/1.1\r\nhost: svc\r\nx-id: up${k}\r\ncontent-length: 3000000\r\n\r\n`);
      c.socket.write(Buffer.alloc(1_300_000 + k * 200_000, 0x61)); // past the 1 MiB buffer: the body streams
      await waitFor(() => aborted.length + complete.size > k || c.received().length > 0, { what: 'the upload to reach the upstream' }).catch(() => undefined);
      c.socket.destroy();
      await c.closed;
    }
    await waitFor(() => aborted.length === 3, { what: 'every cut upload to be aborted upstream' });
    expect([...complete.keys()]).toEqual([]);
    const r = await send(s, 'GET /s/after HTTP/1.1\r\nhost: svc\r\nx-id: after\r\n\r\n', 1);
    expect(r.bodies).toEqual(['ok after']);
  });
});
