/**
 * Hot reload through the real sidecar: the file watch (plain edits, rename-on-save, the Kubernetes
 * ConfigMap `..data` symlink swap), bad files keeping the last good policy, reloads under load, and
 * no leaked sockets or timers from removed upstreams.
 */
import { mkdir, mkdtemp, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { Sidecar } from '../src/sidecar.js';
import { request, waitFor } from './helpers/http.js';
import { testListeners } from './helpers/sidecar.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

let blue: Upstream;
let green: Upstream;
const sidecars: Sidecar[] = [];

beforeAll(async () => {
  blue = await startUpstream((_req, res) => res.end('blue'));
  green = await startUpstream((_req, res) => res.end('green'));
});
afterAll(async () => { await blue.close(); await green.close(); });
afterEach(async () => { for (const s of sidecars.splice(0)) await s.close(); });

const policyFor = (color: 'blue' | 'green', extra = ''): string => `version: 1
${testListeners()}
upstreams:
  blue: { endpoints: [{ address: "${blue.address}" }] }
  green: { endpoints: [{ address: "${green.address}" }] }
routes:
  - { name: web, match: { host: web }, to: [{ upstream: ${color} }] }
${extra}`;

async function start(file: string, watch = true): Promise<Sidecar> {
  const s = await Sidecar.start({ policyFile: file, log: createLogger('silent'), watch });
  sidecars.push(s);
  return s;
}

const get = (s: Sidecar): Promise<string> => request(s.ports.outbound, { headers: { host: 'web' } }).then((r) => r.text);

async function tempFile(text: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pilotfish-reload-'));
  const file = path.join(dir, 'policy.yaml');
  await writeFile(file, text);
  return file;
}

describe('file watch', () => {
  it('serves an edited policy within one second (10 flips)', async () => {
    const file = await tempFile(policyFor('blue'));
    const s = await start(file);
    expect(await get(s)).toBe('blue');
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const want = i % 2 === 0 ? 'green' : 'blue';
      const t0 = performance.now();
      await writeFile(file, policyFor(want));
      await waitFor(async () => (await get(s)) === want, { timeoutMs: 3000, intervalMs: 5, what: `the ${want} policy` });
      times.push(performance.now() - t0);
    }
    times.sort((x, y) => x - y);
    const median = times[5]!;
    const max = times[9]!;
    console.log(`reload latency over 10 flips: median ${median.toFixed(0)} ms, max ${max.toFixed(0)} ms`);
    expect(max).toBeLessThan(1000);
    expect(s.snapshot.generation).toBe(11);
  });

  it('sees an editor-style rename over the file', async () => {
    const file = await tempFile(policyFor('blue'));
    const s = await start(file);
    const tmp = `${file}.swp`;
    await writeFile(tmp, policyFor('green'));
    await rename(tmp, file);
    await waitFor(async () => (await get(s)) === 'green', { timeoutMs: 2000, what: 'the renamed policy' });
  });

  it('sees the Kubernetes ConfigMap ..data symlink swap', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pilotfish-cm-'));
    await mkdir(path.join(dir, '..2026_11_23_01'));
    await writeFile(path.join(dir, '..2026_11_23_01', 'policy.yaml'), policyFor('blue'));
    await symlink('..2026_11_23_01', path.join(dir, '..data'));
    await symlink('..data/policy.yaml', path.join(dir, 'policy.yaml'));
    const s = await start(path.join(dir, 'policy.yaml'));
    expect(await get(s)).toBe('blue');
    // What the kubelet does: write a new timestamped dir, point ..data_tmp at it, rename over ..data.
    await mkdir(path.join(dir, '..2026_11_23_02'));
    await writeFile(path.join(dir, '..2026_11_23_02', 'policy.yaml'), policyFor('green'));
    await symlink('..2026_11_23_02', path.join(dir, '..data_tmp'));
    await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    await rm(path.join(dir, '..2026_11_23_01'), { recursive: true });
    await waitFor(async () => (await get(s)) === 'green', { timeoutMs: 2000, what: 'the swapped ConfigMap' });
  });

  it('keeps the last good policy through garbage, invalid, empty and deleted files', async () => {
    const file = await tempFile(policyFor('blue'));
    const s = await start(file);
    const bad: Array<[string, RegExp]> = [
      ['routes: [ {', /\(syntax\)/],
      [policyFor('blue').replace('version: 1', 'version: 1\nbogus: true'), /:2:1 bogus: unknown key "bogus"/],
      ['', /policy is empty/],
    ];
    for (const [text, why] of bad) {
      const before = s.lastError?.at;
      await writeFile(file, text);
      await waitFor(() => s.lastError && s.lastError.at !== before, { timeoutMs: 2000, what: 'the reload error' });
      expect(s.lastError!.errors.map((e) => `${e.file}:${e.line}:${e.col} ${e.path}: ${e.message}`).join('\n')).toMatch(why);
      expect(await get(s)).toBe('blue');
      expect(s.snapshot.generation).toBe(1);
    }
    await unlink(file);
    await waitFor(() => s.lastError?.errors[0]?.message.includes('ENOENT'), { timeoutMs: 7000, what: 'the deleted-file error' });
    expect(await get(s)).toBe('blue');
    await writeFile(file, policyFor('green'));
    await waitFor(async () => (await get(s)) === 'green', { timeoutMs: 2000, what: 'recovery' });
    expect(s.lastError).toBeUndefined();
  });

  it('a forced reload that joins a file event\'s run still re-evaluates the file (and reports its error)', async () => {
    const file = await tempFile(policyFor('blue'));
    const s = await start(file, false);
    await writeFile(file, 'version: 1\nroutes:\n  - name: r\n    to: [{ upstream: nowhere }]\n');
    expect((await s.reload('file')).result).toBe('error'); // the file's content is now "seen"
    const fileRun = s.reload('file'); // a second event for the same content: a no-op on its own
    const forced = await s.reload('admin'); // joins that run, as POST /reload would
    expect(forced.result).toBe('error');
    expect(forced.errors?.[0]).toMatchObject({ file, line: 4 });
    expect((await fileRun).result).toBe('error');
    expect(await get(s)).toBe('blue');
  });

  it('an unchanged file is a no-op', async () => {
    const file = await tempFile(policyFor('blue'));
    const s = await start(file);
    await writeFile(file, policyFor('blue'));
    expect((await s.reload('file')).result).toBe('unchanged');
    expect(s.snapshot.generation).toBe(1);
  });
});

describe('reload under load', () => {
  it('3,000 requests at 16 concurrent during 20 reloads all succeed', async () => {
    const file = await tempFile(policyFor('blue'));
    const s = await start(file);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    let sent = 0;
    const failures: string[] = [];
    const seen = new Set<string>();
    const worker = async (): Promise<void> => {
      while (sent < 3000) {
        sent++;
        const r = await request(s.ports.outbound, { headers: { host: 'web' }, agent }).catch((e: Error) => ({ status: 0, text: e.message }));
        if (r.status !== 200) failures.push(`${r.status} ${r.text}`);
        else seen.add(r.text);
      }
    };
    const flips = (async () => {
      for (let i = 0; i < 20; i++) {
        await writeFile(file, policyFor(i % 2 === 0 ? 'green' : 'blue', `# flip ${i}\n`));
        const gen = s.snapshot.generation;
        await waitFor(() => s.snapshot.generation > gen, { timeoutMs: 2000, what: `reload ${i}` });
      }
    })();
    await Promise.all([...Array.from({ length: 16 }, worker), flips]);
    agent.destroy();
    expect(failures).toEqual([]);
    expect(seen).toEqual(new Set(['blue', 'green']));
    expect(s.snapshot.generation).toBe(21);
  });
});

describe('state across reloads', () => {
  it('an unchanged upstream keeps its pooled connections; a removed one releases them', async () => {
    const file = await tempFile(policyFor('blue'));
    const s = await start(file);
    await get(s);
    const blueState = s.upstreams.get('blue');
    const blueSockets = new Set(blue.seen.map((x) => x.socket));
    await writeFile(file, policyFor('blue', '# unrelated edit\n'));
    await waitFor(() => s.snapshot.generation === 2, { what: 'the reload' });
    expect(s.upstreams.get('blue')).toBe(blueState);
    await get(s);
    expect(blue.seen.at(-1)!.socket).toBe([...blueSockets].at(-1)); // the same pooled connection
    await writeFile(file, policyFor('green').replace(/  blue: .*\n/, ''));
    await waitFor(() => s.snapshot.generation === 3, { what: 'the reload' });
    expect(s.upstreams.get('blue')).toBeUndefined();
    await waitFor(() => blue.sockets.size === 0, { what: 'the removed upstream to close its sockets' });
  });

  it('leaves no sockets or timers behind after 100 reloads that add and remove upstreams', async () => {
    const file = await tempFile(policyFor('blue'));
    const s = await start(file, false); // explicit reloads only: each one must apply
    const count = (): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
      return out;
    };
    await get(s);
    const before = count();
    // Every timer-owning feature on: breakers, outlier sweeps, health probes, sticky affinities.
    const features = ', circuitBreaker: {}, outlierDetection: {}, healthCheck: { path: /, interval: 50ms } }';
    for (let i = 0; i < 100; i++) {
      const color = i % 2 === 0 ? 'green' : 'blue';
      const text = policyFor(color).replace(color === 'green' ? /  blue: .*\n/ : /  green: .*\n/, '')
        .replace(/(endpoints: \[[^\]]*\]) }/, `$1${features}`)
        .replace('to: [{ upstream: ' + color + ' }] }', `to: [{ upstream: ${color} }], sticky: { cookie: { name: s } } }`);
      await writeFile(file, text);
      expect((await s.reload('signal')).result).toBe('ok');
      expect(await get(s)).toBe(color);
      expect(s.upstreams.get(color)?.health).toBeDefined();
    }
    await waitFor(() => blue.sockets.size <= 1 && green.sockets.size <= 1, { what: 'old connections to close' });
    const after = count();
    expect(after.TCPSocketWrap ?? 0).toBeLessThanOrEqual((before.TCPSocketWrap ?? 0) + 2);
    expect(after.Timeout ?? 0).toBeLessThanOrEqual((before.Timeout ?? 0) + 2);
  });
});

describe('resilience state across reloads', () => {
  it('a breaker open before a reload is still open after it; a changed upstream starts closed', async () => {
    const failing = await startUpstream((req, res) => { req.resume(); res.writeHead(500); res.end(); });
    try {
      const text = (extra: string): string => `version: 1
${testListeners()}
upstreams:
  u: { endpoints: [{ address: "${failing.address}" }], circuitBreaker: { volumeThreshold: 3, resetTimeout: 1m${extra} } }
routes:
  - { name: web, match: { host: web }, to: [{ upstream: u }] }
`;
      const file = await tempFile(text(''));
      const s = await start(file, false);
      for (let i = 0; i < 3; i++) expect((await request(s.ports.outbound, { headers: { host: 'web' } })).status).toBe(500);
      const open = await request(s.ports.outbound, { headers: { host: 'web' } });
      expect(open.headers['x-pilotfish-flags']).toBe('CO');
      await writeFile(file, `${text('')}# an unrelated edit\n`);
      expect((await s.reload('signal')).result).toBe('ok');
      expect((await request(s.ports.outbound, { headers: { host: 'web' } })).headers['x-pilotfish-flags']).toBe('CO');
      const hits = failing.seen.length;
      await writeFile(file, text(', errorThresholdPercentage: 60'));
      expect((await s.reload('signal')).result).toBe('ok');
      expect((await request(s.ports.outbound, { headers: { host: 'web' } })).status).toBe(500);
      expect(failing.seen.length).toBe(hits + 1);
    } finally {
      await failing.close();
    }
  });
});

describe('cluster warming', () => {
  /** An upstream that counts the connections it accepted. */
  async function counted(text: string): Promise<Upstream & { accepted: () => number }> {
    const up = await startUpstream((_req, res) => res.end(text));
    let n = 0;
    up.server.on('connection', () => n++);
    return Object.assign(up, { accepted: () => n });
  }
  const twoUpstreams = (a: Upstream, b: Upstream, to: string, extra = ''): string => `version: 1
${testListeners()}
upstreams:
  a: { endpoints: [{ address: "${a.address}" }] }
  b: { endpoints: [{ address: "${b.address}" }] }
routes:
  - { name: web, match: { host: web }, to: [${to}]${extra} }
`;
  const connections = async (s: Sidecar, name: string): Promise<{ active: number; idle: number }> =>
    (await request(s.ports.admin, { path: '/clusters' })).json().upstreams.find((u: { name: string }) => u.name === name).connections;

  it('a reload that routes to an upstream connects to it before the first request, which then uses that connection', async () => {
    const a = await counted('a');
    const b = await counted('b');
    try {
      const file = await tempFile(twoUpstreams(a, b, '{ upstream: a }'));
      const s = await start(file, false);
      expect(await get(s)).toBe('a');
      expect(b.accepted()).toBe(0);
      await writeFile(file, twoUpstreams(a, b, '{ upstream: b }'));
      expect((await s.reload('signal')).result).toBe('ok');
      await waitFor(() => b.accepted() === 1, { what: 'the warming connection to b' });
      expect(b.seen).toHaveLength(0); // connected, no request sent
      expect(await get(s)).toBe('b');
      expect(await get(s)).toBe('b');
      expect(b.accepted()).toBe(1); // the requests went out on the warmed connection
      expect(b.seen[0]!.socket).toBe(b.seen[1]!.socket);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a reload that routes nowhere new connects to nothing; a weight raised from 0 warms that destination', async () => {
    const a = await counted('a');
    const b = await counted('b');
    try {
      const split = (wb: number): string => `{ upstream: a, weight: ${100 - wb} }, { upstream: b, weight: ${wb} }`;
      const file = await tempFile(twoUpstreams(a, b, split(0)));
      const s = await start(file, false);
      expect(await get(s)).toBe('a');
      // Same destinations, another timeout: b (weight 0) stays unconnected. The warming starts within
      // the reload, so the pool's count already shows a connection it would have started.
      await writeFile(file, twoUpstreams(a, b, split(0), ', timeout: 7s'));
      expect((await s.reload('signal')).result).toBe('ok');
      expect(await connections(s, 'b')).toEqual({ active: 0, idle: 0 });
      await writeFile(file, twoUpstreams(a, b, split(10), ', timeout: 7s'));
      expect((await s.reload('signal')).result).toBe('ok');
      expect(await connections(s, 'b')).toEqual({ active: 0, idle: 1 });
      await waitFor(() => b.accepted() === 1, { what: 'the warming connection to b' });
      expect(a.accepted()).toBe(1); // a's pooled connection, untouched by both reloads
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a warmed connection that no request takes is closed after the idle timeout, as an idle pooled one is', async () => {
    const a = await counted('a');
    const b = await counted('b');
    let closed = 0;
    b.server.on('connection', (socket) => socket.on('close', () => closed++));
    try {
      const withIdle = (to: string): string => twoUpstreams(a, b, to).replace(`b: { endpoints: [{ address: "${b.address}" }] }`, `b: { endpoints: [{ address: "${b.address}" }], connectionPool: { idleTimeout: 300ms } }`);
      const file = await tempFile(withIdle('{ upstream: a }'));
      const s = await start(file, false);
      expect(await get(s)).toBe('a');
      await writeFile(file, withIdle('{ upstream: b }'));
      expect((await s.reload('signal')).result).toBe('ok');
      await waitFor(() => b.accepted() === 1, { what: 'the warming connection to b' });
      await waitFor(() => closed === 1, { what: 'the unused warmed connection to close' });
      expect(b.seen).toHaveLength(0);
      expect(await connections(s, 'b')).toEqual({ active: 0, idle: 0 });
      // The next request connects anew and is served.
      expect(await get(s)).toBe('b');
      expect(b.accepted()).toBe(2);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a warming connect that fails leaves nothing pooled; the reload succeeds and requests fail over as before', async () => {
    const a = await counted('a');
    const gone = await startUpstream();
    await gone.close(); // a port nothing listens on: connects are refused
    try {
      const file = await tempFile(twoUpstreams(a, gone, '{ upstream: a }'));
      const s = await start(file, false);
      expect(await get(s)).toBe('a');
      await writeFile(file, twoUpstreams(a, gone, '{ upstream: b }'));
      expect((await s.reload('signal')).result).toBe('ok');
      await waitFor(async () => JSON.stringify(await connections(s, 'b')) === JSON.stringify({ active: 0, idle: 0 }), { what: 'the refused warming connection to leave the pool' });
      const r = await request(s.ports.outbound, { headers: { host: 'web' } });
      expect(r.status).toBe(503);
      await writeFile(file, twoUpstreams(a, gone, '{ upstream: a }'));
      expect((await s.reload('signal')).result).toBe('ok');
      expect(await get(s)).toBe('a');
    } finally {
      await a.close();
    }
  });
});
