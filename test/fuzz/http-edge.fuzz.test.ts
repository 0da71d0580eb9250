/**
 * Property tests of the HTTP edge against a running sidecar (issue 13.5), seeded and bounded
 * (`budget.ts`). Each case is one connection carrying a pipeline of requests — random methods,
 * paths, headers and bodies (Content-Length or chunked, chunk extensions, trailers), written in
 * random slices — in which one request may be broken (ambiguous framing: Content-Length with
 * Transfer-Encoding, two lengths, a Transfer-Encoding not ending in chunked, a bad chunk size; or
 * a malformed head), and which the client may cut short at any byte. Properties:
 *
 * - the sidecar never crashes, and answers a plain request after every case;
 * - every request that arrived complete before a broken one gets exactly one answer, its own, in
 *   order; the broken one gets at most one (a 4xx), and nothing follows it;
 * - no broken request reaches the upstream as a complete request, and no request reaches it twice.
 *
 * Routes: `/r/…` has retries (bodies buffered up to 1 MiB), `/s/…` none (bodies stream).
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sidecar } from '../../src/sidecar.js';
import { request } from '../helpers/http.js';
import { connectRaw, parseResponses, type RawResponse } from '../helpers/raw-http.js';
import { startObserved, testListeners } from '../helpers/sidecar.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { budget, timeoutFor } from './budget.js';

/** What the upstream saw complete: fuzz id → times, body digest. */
const completed = new Map<string, { times: number; digest: string }>();
let upstream: Upstream;
let sidecar: Sidecar;

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    const id = String(req.headers['x-fuzz'] ?? '');
    const h = createHash('sha256');
    req.on('data', (c: Buffer) => h.update(c));
    req.on('end', () => {
      const seen = completed.get(id);
      completed.set(id, { times: (seen?.times ?? 0) + 1, digest: h.digest('hex') });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`ok ${id}`);
    });
  }, { maxHeaderSize: 128 * 1024 });
  const started = await startObserved(`version: 1\n${testListeners()}
upstreams: { u: { endpoints: [{ address: "${upstream.address}" }] } }
routes:
  - { name: buffered, match: { host: svc, path: { prefix: /r/ } }, to: [{ upstream: u }], timeout: 5s, retries: { attempts: 1, retryOn: [5xx] } }
  - { name: streamed, match: { host: svc, path: { prefix: / } }, to: [{ upstream: u }], timeout: 5s }
`);
  sidecar = started.sidecar;
});
afterAll(async () => { await sidecar?.close(); await upstream?.close(); });

// ---- requests ----

type Break = 'none' | 'cl+te' | 'two-lengths' | 'te-not-chunked' | 'bad-chunk-size' | 'chunk-data-overrun' | 'bad-head';
/** A body by recipe (printed short in a counterexample): `size` bytes, `fill` or seeded noise. */
interface BodySpec { size: number; fill: number; noise: boolean }
const bodyOf = (b: BodySpec): Buffer => {
  if (!b.noise) return Buffer.alloc(b.size, b.fill);
  const out = Buffer.alloc(b.size);
  let x = b.fill * 2654435761 + 1;
  for (let i = 0; i < b.size; i++) { x = (x * 1103515245 + 12345) >>> 0; out[i] = x >>> 24; }
  return out;
};

interface Req {
  method: string;
  path: string;
  headers: Array<[string, string]>;
  body: BodySpec;
  framing: 'length' | 'chunked' | 'none';
  chunks: number[];
  extension: boolean;
  trailer: boolean;
  broken: Break;
  badHead: string;
}

const token = fc.stringMatching(/^[a-z][a-z0-9-]{0,9}$/);
const headerValue = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,30}[\x21-\x7e])?$/);
const pathArb = fc.tuple(fc.constantFrom('/r/', '/s/'), fc.stringMatching(/^[A-Za-z0-9._~%!$&'()*+,;=:@/-]{0,30}$/), fc.option(fc.stringMatching(/^[A-Za-z0-9=&%._-]{0,20}$/), { nil: undefined }))
  .map(([route, rest, q]) => `${route}${rest.replace(/%(?![0-9A-Fa-f]{2})/g, '%25')}${q === undefined ? '' : `?${q}`}`);
const BAD_HEADS = [
  'x-space : before-colon', 'x-nul: a\u0000b', 'x-fold: a\r\n folded', 'bad header: no token', '(): parens',
  'x-cr: a\rb', 'content-length: 12abc', 'content-length: -1', 'transfer-encoding: chunked\r\ntransfer-encoding: chunked',
];

const reqArb: fc.Arbitrary<Req> = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
  path: pathArb,
  headers: fc.array(fc.tuple(token.filter((t) => !/^(host|content-length|transfer-encoding|connection|x-fuzz|expect|upgrade|te|trailer|keep-alive)$/.test(t)), headerValue), { maxLength: 12 }),
  body: fc.record({
    size: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 60_000, max: 1_300_000 })),
    fill: fc.integer({ min: 0, max: 255 }),
    noise: fc.boolean(),
  }),
  framing: fc.constantFrom('length' as const, 'chunked' as const, 'none' as const),
  chunks: fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 6 }),
  extension: fc.boolean(),
  trailer: fc.boolean(),
  broken: fc.constantFrom<Break>('none', 'none', 'none', 'cl+te', 'two-lengths', 'te-not-chunked', 'bad-chunk-size', 'chunk-data-overrun', 'bad-head'),
  badHead: fc.constantFrom(...BAD_HEADS),
});

let nextId = 0;

/** The bytes of one request, and whether it is broken (must not reach the upstream complete). */
function serialize(r: Req): { id: string; bytes: Buffer; broken: boolean; digest: string } {
  const id = `f${++nextId}`;
  const body = r.framing === 'none' ? Buffer.alloc(0) : bodyOf(r.body);
  const lines = [`${r.method} ${r.path} HTTP/1.1`, 'host: svc', `x-fuzz: ${id}`, ...r.headers.map(([k, v]) => `${k}: ${v}`)];
  let encoded: Buffer = Buffer.alloc(0);
  let broken = r.broken !== 'none';
  const chunked = (): Buffer => {
    const parts: Buffer[] = [];
    let at = 0;
    let i = 0;
    // At most about 200 chunks a body: a megabyte in one-byte chunks tests nothing more, slowly.
    const least = Math.ceil(body.length / 200);
    while (at < body.length) {
      const n = Math.min(Math.max(least, r.chunks[i++ % r.chunks.length]!), body.length - at);
      const size = r.broken === 'bad-chunk-size' && i === 1 ? 'zz' : n.toString(16);
      const data = body.subarray(at, at + n);
      const overrun = r.broken === 'chunk-data-overrun' && i === 1 ? Buffer.from('XYZ') : Buffer.alloc(0);
      parts.push(Buffer.from(`${size}${r.extension ? ';ext=1' : ''}\r\n`), data, overrun, Buffer.from('\r\n'));
      at += n;
    }
    if (body.length === 0 && (r.broken === 'bad-chunk-size' || r.broken === 'chunk-data-overrun')) parts.push(Buffer.from('-5\r\n\r\n'));
    parts.push(Buffer.from(r.trailer ? '0\r\nx-trailer: t\r\n\r\n' : '0\r\n\r\n'));
    return Buffer.concat(parts);
  };
  switch (r.broken) {
    case 'cl+te': lines.push(`content-length: ${body.length}`, 'transfer-encoding: chunked'); encoded = chunked(); break;
    case 'two-lengths': lines.push(`content-length: ${body.length}`, `content-length: ${body.length + 1}`); encoded = body; break;
    case 'te-not-chunked': lines.push('transfer-encoding: chunked, gzip'); encoded = chunked(); break;
    case 'bad-chunk-size': case 'chunk-data-overrun': lines.push('transfer-encoding: chunked'); encoded = chunked(); break;
    case 'bad-head': lines.push(r.badHead); if (body.length) lines.push(`content-length: ${body.length}`); encoded = body; break;
    case 'none':
      if (r.framing === 'length') { lines.push(`content-length: ${body.length}`); encoded = body; }
      if (r.framing === 'chunked') { lines.push('transfer-encoding: chunked'); encoded = chunked(); }
      broken = false;
  }
  const bytes = Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), encoded]);
  return { id, bytes, broken, digest: createHash('sha256').update(broken ? Buffer.alloc(0) : body).digest('hex') };
}

// ---- one connection ----

interface Outcome { responses: RawResponse[]; closed: boolean }

async function run(bytes: Buffer, slices: number[], cutAt: number | undefined, expected: number, closes: boolean): Promise<Outcome> {
  const c = await connectRaw(sidecar.ports.outbound);
  const end = cutAt === undefined ? bytes.length : Math.min(cutAt, bytes.length);
  let at = 0;
  let i = 0;
  while (at < end && !c.socket.destroyed) {
    const n = Math.min(slices[i++ % slices.length]!, end - at);
    c.socket.write(bytes.subarray(at, at + n));
    at += n;
    if (i % 3 === 0) await new Promise((r) => setImmediate(r));
  }
  if (cutAt !== undefined) c.socket.destroy();
  let closed = false;
  void c.closed.then(() => { closed = true; });
  const deadline = Date.now() + 5000;
  while (!closed && Date.now() < deadline) {
    if (cutAt === undefined && parseResponses(c.received()).responses.length >= expected) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  // Anything more that was coming (a second answer to one request) has had a moment to arrive, and
  // a connection that is to close has had its moment to.
  const settle = performance.now() + (closes ? 2000 : 20);
  do await new Promise((r) => setTimeout(r, 5)); while (closes && !closed && performance.now() < settle);
  c.socket.destroy();
  return { responses: parseResponses(c.received()).responses, closed };
}

describe('HTTP edge properties', () => {
  it('pipelines of random, broken and cut-short requests: one answer each, broken ones never forwarded, never a crash', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(reqArb, { minLength: 1, maxLength: 4 }),
      fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 5 }),
      fc.option(fc.nat(), { nil: undefined, freq: 4 }),
      async (reqs, slices, cut) => {
        const sent = reqs.map(serialize);
        const all = Buffer.concat(sent.map((s) => s.bytes));
        const cutAt = cut === undefined ? undefined : cut % (all.length + 1);
        const firstBroken = sent.findIndex((s) => s.broken);
        const good = firstBroken < 0 ? sent : sent.slice(0, firstBroken);
        const outcome = await run(all, slices, cutAt, good.length + (firstBroken < 0 ? 0 : 1), firstBroken >= 0 && cutAt === undefined);

        // Requests that were sent whole, before any broken one.
        let offset = 0;
        const whole = new Set<string>();
        for (const s of good) { offset += s.bytes.length; if (cutAt === undefined || offset <= cutAt) whole.add(s.id); }

        // Answers: the good requests' own, in order; then at most one rejection; nothing after it.
        const answers = outcome.responses;
        for (let i = 0; i < answers.length && i < good.length; i++) {
          const a = answers[i]!;
          if (a.status !== 200) {
            // A good request may only fail as the last thing on a connection the client cut short.
            expect(cutAt, `answer ${i} ${a.status} ${a.body.toString()}`).toBeDefined();
            expect(i).toBe(answers.length - 1);
            break;
          }
          expect(a.body.toString(), `answer ${i}`).toBe(`ok ${good[i]!.id}`);
        }
        expect(answers.length).toBeLessThanOrEqual(good.length + (firstBroken < 0 ? 0 : 1));
        if (firstBroken >= 0 && answers.length > good.length) {
          const last = answers[good.length]!;
          expect([400, 408, 413, 431, 499, 502, 503], `the broken request's answer: ${last.status} ${last.body.toString()}`).toContain(last.status);
        }
        if (cutAt === undefined) {
          expect(answers.slice(0, good.length).map((a) => a.status)).toEqual(good.map(() => 200));
          if (firstBroken >= 0) expect(outcome.closed).toBe(true);
        }

        // The upstream: each whole good request at most once (exactly once when it was answered),
        // with the body sent; no broken request, and nothing after it, ever complete.
        await new Promise((r) => setTimeout(r, 5));
        for (const [i, s] of sent.entries()) {
          const seen = completed.get(s.id);
          if (i < good.length && whole.has(s.id)) {
            if (answers[i]?.status === 200) expect(seen, s.id).toEqual({ times: 1, digest: s.digest });
            else if (seen) expect(seen.times, s.id).toBe(1);
          } else {
            expect(seen, `${s.id} (${i >= good.length ? 'broken or after one' : 'cut short'}) reached the upstream`).toBeUndefined();
          }
        }

        // Still serving.
        expect((await request(sidecar.ports.outbound, { path: '/s/probe', headers: { host: 'svc', 'x-fuzz': 'probe' } })).status).toBe(200);
      },
    ), { ...budget(120), interruptAfterTimeLimit: timeoutFor(50_000), markInterruptAsFailure: true });
  }, timeoutFor(60_000));

  it('a client that half-closes after its request still gets nothing forwarded twice, and the sidecar lives', async () => {
    await fc.assert(fc.asyncProperty(reqArb.filter((r) => r.broken === 'none'), fc.boolean(), async (r, fin) => {
      const s = serialize(r);
      const c = await connectRaw(sidecar.ports.outbound);
      c.socket.write(s.bytes);
      if (fin) c.socket.end(); else c.socket.destroy();
      // FIN goes out only once the body is flushed, which a sidecar that stopped reading never lets happen.
      await Promise.race([c.closed, new Promise((res) => setTimeout(res, 500))]);
      c.socket.destroy();
      await new Promise((res) => setTimeout(res, 10));
      const seen = completed.get(s.id);
      if (seen) expect(seen.times).toBe(1);
      expect((await request(sidecar.ports.outbound, { path: '/s/probe', headers: { host: 'svc' } })).status).toBe(200);
    }), budget(40));
  }, timeoutFor(30_000));
});

