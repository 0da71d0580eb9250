import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RequestDone } from '../core/observer.js';
import { AccessLog, type AccessContext } from './access-log.js';

const dir = mkdtempSync(join(tmpdir(), 'pilotfish-access-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ctx: AccessContext = {
  direction: 'outbound', requestId: 'rid-1', generation: 3, flags: ['UF', 'URX'],
  route: 'reviews', upstream: 'reviews', subset: 'v2', endpoint: '10.0.0.12:9080', attempts: 3,
  peer: 'spiffe://cluster.local/ns/shop/sa/frontend', transportFailure: '',
};
const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const details: RequestDone = {
  method: 'POST', host: 'reviews:9080', path: '/reviews/1?token=secret&user=alice', status: 503,
  durationMs: 12.345678, bytesIn: 17, bytesOut: 64,
};

function collector() {
  const lines: string[] = [];
  return { lines, stream: { write: (s: string) => { lines.push(s); } } };
}

describe('AccessLog', () => {
  it('writes one JSON line per request with every field, and the path without its query', () => {
    const { lines, stream } = collector();
    const log = new AccessLog({ destination: stream });
    log.write(ctx, details, traceId);
    log.write({ ...ctx, flags: [] }, { ...details, path: '/plain', status: 200 }, traceId);
    expect(lines).toHaveLength(2);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(first)).toEqual([
      'log', 'time', 'direction', 'method', 'host', 'path', 'status', 'flags', 'route', 'upstream', 'subset', 'endpoint',
      'attempts', 'duration', 'bytesIn', 'bytesOut', 'traceId', 'generation', 'requestId', 'peer', 'protocol',
    ]);
    expect(first).toMatchObject({
      log: 'access', direction: 'outbound', method: 'POST', host: 'reviews:9080', path: '/reviews/1', status: 503, flags: 'UF,URX',
      route: 'reviews', upstream: 'reviews', subset: 'v2', endpoint: '10.0.0.12:9080', attempts: 3, duration: 12.346,
      bytesIn: 17, bytesOut: 64, traceId, generation: 3, requestId: 'rid-1', peer: 'spiffe://cluster.local/ns/shop/sa/frontend',
    });
    expect(new Date(first.time as string).toISOString()).toBe(first.time);
    expect(lines[0]).not.toContain('secret');
    expect(JSON.parse(lines[1]!)).toMatchObject({ path: '/plain', status: 200, flags: '' });
    expect(first.protocol).toBe('HTTP/1.1');
  });

  it('an HTTP/2 request says so; a gRPC one adds its grpcStatus (SPEC §11)', () => {
    const { lines, stream } = collector();
    const log = new AccessLog({ destination: stream });
    log.write(ctx, { ...details, protocol: 'HTTP/2' }, traceId);
    log.write(ctx, { ...details, protocol: 'HTTP/2', grpcStatus: 14 }, traceId);
    const [h2, grpc] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(h2).toMatchObject({ protocol: 'HTTP/2' });
    expect(h2).not.toHaveProperty('grpcStatus');
    expect(grpc).toMatchObject({ protocol: 'HTTP/2', grpcStatus: 14 });
  });

  it('names why an upstream\'s TLS failed, on the lines of those failures only', () => {
    const { lines, stream } = collector();
    const log = new AccessLog({ destination: stream });
    const reason = 'TLS: the server identity (spiffe://cluster.local/ns/b/sa/other) is not in subjectAltNames [spiffe://cluster.local/ns/b/sa/b]';
    log.write({ ...ctx, flags: ['UF'], transportFailure: reason }, details, traceId);
    log.write({ ...ctx, peer: '' }, details, traceId);
    expect(JSON.parse(lines[0]!)).toMatchObject({ flags: 'UF', upstreamTransportFailure: reason });
    expect(JSON.parse(lines[1]!)).toMatchObject({ peer: '' });
    expect(JSON.parse(lines[1]!)).not.toHaveProperty('upstreamTransportFailure');
  });

  it('escapes what a peer controls: quotes, backslashes, control and non-ASCII characters stay valid JSON', () => {
    const { lines, stream } = collector();
    const log = new AccessLog({ destination: stream });
    const path = '/a"b\\c\u0001d/é\u2028?q="x"';
    const requestId = 'id-"\\-\u007f';
    log.write({ ...ctx, requestId }, { ...details, host: 'h"st', path, method: 'GE\tT' }, traceId);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ host: 'h"st', path: '/a"b\\c\u0001d/é\u2028', method: 'GE\tT', requestId });
    expect(lines[0]!.split('\n')).toHaveLength(2); // one line, whatever the input
  });

  it('does nothing when disabled', async () => {
    const { lines, stream } = collector();
    const log = new AccessLog({ enabled: false, destination: stream });
    log.write(ctx, details, traceId);
    expect(log.enabled).toBe(false);
    expect(lines).toEqual([]);
    await log.close();
  });

  it('writes an owned destination asynchronously and flushes every line on close', async () => {
    const file = join(dir, 'async.log');
    const log = new AccessLog({ destination: file });
    for (let i = 0; i < 5000; i++) log.write(ctx, { ...details, bytesOut: i }, traceId);
    await log.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(5000);
    expect(lines.map((l) => (JSON.parse(l) as { bytesOut: number }).bytesOut)).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    // After close a late request is dropped silently instead of throwing into the request path.
    expect(() => log.write(ctx, details, traceId)).not.toThrow();
    await log.close();
  });

  it('keeps lines whole and in order across batches: multi-byte characters, and lines longer than a batch', async () => {
    const file = join(dir, 'mixed.log');
    const log = new AccessLog({ destination: file });
    const pathOf = (i: number): string => (i % 500 === 7 ? `/${'ü'.repeat(50_000)}` : i % 3 === 0 ? `/é€😀/${i}` : `/p/${i}`);
    for (let i = 0; i < 3000; i++) log.write(ctx, { ...details, path: pathOf(i), bytesOut: i }, traceId);
    await log.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { path: string; bytesOut: number });
    expect(lines.map((l) => l.bytesOut)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    expect(lines.every((l, i) => l.path === pathOf(i))).toBe(true);
  });

  it('counts every line of a batch a full destination buffer dropped, instead of growing the heap', async () => {
    const file = join(dir, 'dropped.log');
    const log = new AccessLog({ destination: file, maxBufferBytes: 1000 });
    for (let i = 0; i < 200; i++) log.write(ctx, details, traceId); // every batch is over the cap
    await log.close();
    expect(log.dropped).toBe(200);
    expect(readFileSync(file, 'utf8')).toBe('');
  });

  it('flushes synchronously for exit handlers', async () => {
    const file = join(dir, 'sync.log');
    const log = new AccessLog({ destination: file });
    const count = (): number => readFileSync(file, 'utf8').split('\n').length - 1;
    const until = async (pred: () => boolean): Promise<void> => {
      const deadline = Date.now() + 5000;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error('timed out');
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    // First line on disk: the file is open, so a synchronous flush has somewhere to write.
    log.write(ctx, details, traceId);
    await until(() => { try { return count() === 1; } catch { return false; } });
    for (let i = 0; i < 100; i++) log.write(ctx, details, traceId);
    log.flushSync();
    // Everything but the one chunk an asynchronous write already had in flight is on disk now…
    expect(count()).toBeGreaterThanOrEqual(100);
    // …and that chunk follows without any further help.
    await until(() => count() === 101);
    await log.close();
  });
});
