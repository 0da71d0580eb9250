/**
 * Traffic capture for real: a "pod" and a "remote" network namespace joined by a veth pair; the
 * init container's entry point (src/kube/init-main.ts) installs the rules in the pod namespace;
 * the real sidecar runs there as uid 1337 beside an app, and plain HTTP clients in either
 * namespace show (a) outbound capture and routing by policy, (b) inbound capture to the app
 * through 15006, (c) the sidecar's own calls leaving uncaptured. Needs root, iproute2, iptables and
 * setpriv; skipped (with the reason) where one is missing or the kernel will not make namespaces.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, Lab, TS_NODE, natCounters, packets, probeSupport, sh, type Topology } from './netns.js';
import { IP, IPTABLES, SETPRIV, needs, skip, skipNow } from '../helpers/system.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const INIT_MAIN = path.join(ROOT, 'src/kube/init-main.ts');
/**
 * uid/gid 1337 as in the pod. CAP_DAC_READ_SEARCH lets it read the checkout wherever CI cloned it;
 * it does not change the socket owner the iptables owner match tests.
 */
const AS_PROXY = ['setpriv', '--reuid=1337', '--regid=1337', '--clear-groups', '--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search'];

const programs = needs(IP, IPTABLES, SETPRIV);
const probed = programs.ok ? await probeSupport() : undefined;
const support = probed && !probed.ok ? skip(probed.reason) : programs;

interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: { name: string; port: number; headers: Record<string, string>; remoteAddress: string };
  error?: string;
}

const plain = (addr: string): string => addr.replace(/^::ffff:/, '');

describe.skipIf(!support.ok)(`traffic capture in network namespaces${support.label}`, () => {
  const lab = new Lab();
  let t: Topology;
  let dir: string;
  let ipv6 = false;

  /** One GET from a fresh connection in a namespace, optionally as uid 1337. */
  async function get(ns: string, url: string, opts: { host?: string; asProxy?: boolean } = {}): Promise<Reply> {
    const argv = ['ip', 'netns', 'exec', ns, ...(opts.asProxy ? AS_PROXY : []), process.execPath, path.join(FIXTURES, 'http-get.mjs'), url];
    if (opts.host) argv.push(opts.host);
    const r = await sh(argv[0]!, argv.slice(1));
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Reply;
  }

  const initCapture = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    sh('ip', ['netns', 'exec', t.pod, ...TS_NODE, INIT_MAIN, ...args], 30_000);
  const CAPTURE_FLAGS = ['--exclude-outbound-ports', '8002', '--exclude-inbound-ports', '9100'];

  beforeAll(async () => {
    t = await lab.topology();
    CAPTURE_FLAGS.push('--exclude-outbound-cidrs', `${t.remoteIp2}/32`);
    await lab.start(t.remote, [process.execPath, path.join(FIXTURES, 'echo-server.mjs'), '::', '8000=remote-a', '8001=remote-b', '8002=remote-c', '8003=remote-d'], /^ready$/);

    const applied = await initCapture(...CAPTURE_FLAGS);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('# IPv4: applied');
    ipv6 = applied.stdout.includes('# IPv6: applied');

    await lab.start(t.pod, [process.execPath, path.join(FIXTURES, 'echo-server.mjs'), '::', '8080=app', '9100=app-metrics'], /^ready$/);
    dir = await mkdtemp(path.join(tmpdir(), 'pilotfish-netns-'));
    await chmod(dir, 0o755);
    const policy = path.join(dir, 'policy.yaml');
    // The client dials remote-a (:8000); the policy sends that host to remote-b (:8001). An answer
    // from remote-b can only come through the sidecar.
    await writeFile(policy, `version: 1
listeners:
  outbound: { port: 15001, address: "::" }
  inbound: { port: 15006, address: "::", app: "http://127.0.0.1:8080" }
  admin: { port: 15000, address: 127.0.0.1 }
  telemetry: { port: 15020, address: "::" }
outboundTrafficPolicy: registry-only
upstreams:
  remote-b: { endpoints: [{ address: "${t.remoteIp}:8001" }] }
  remote-b6: { endpoints: [{ address: "[${t.remoteIp6}]:8001" }] }
  remote-d: { endpoints: [{ address: "${t.remoteIp}:8003" }] }
routes:
  - { name: loop-check, match: { host: loop.test }, to: [{ upstream: remote-d }] }
  - { name: remote-v4, match: { host: "${t.remoteIp}" }, to: [{ upstream: remote-b }] }
  - { name: remote-v6, match: { host: "[${t.remoteIp6}]" }, to: [{ upstream: remote-b6 }] }
`, { mode: 0o644 });
    const { line } = await lab.start(t.pod, [...AS_PROXY, ...TS_NODE, path.join(FIXTURES, 'run-sidecar.ts'), policy], /"listening"/);
    expect(JSON.parse(line)).toMatchObject({ uid: 1337, listening: { outbound: 15001, inbound: 15006, telemetry: 15020 } });
  }, 90_000);

  afterAll(async () => {
    await lab.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  const redirected = (): Promise<number> => packets(t.pod, 'PILOTFISH_REDIRECT', /REDIRECT --to-ports 15001/);
  const proxyExempt = (): Promise<number> => packets(t.pod, 'PILOTFISH_OUTPUT', /--uid-owner 1337 -j RETURN/);
  const inRedirected = (): Promise<number> => packets(t.pod, 'PILOTFISH_IN_REDIRECT', /REDIRECT --to-ports 15006/);

  it('(a) captures the app\'s plain call to a remote address and routes it by policy', async () => {
    const before = await redirected();
    const r = await get(t.pod, `http://${t.remoteIp}:8000/orders?id=7`);
    expect(r.status).toBe(200);
    // The client dialed remote-a; the policy's route for that host sent it to remote-b.
    expect(r.body!.name).toBe('remote-b');
    expect(r.body!.port).toBe(8001);
    expect(r.body!.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.body!.headers['x-forwarded-for']).toBe(t.podIp);
    expect(r.body!.headers.host).toBe(`${t.remoteIp}:8000`);
    expect(await redirected()).toBe(before + 1);
  });

  it('(a) an unrouted host is answered by the sidecar (registry-only), proving the call never left the pod', async () => {
    const r = await get(t.pod, `http://${t.remoteIp}:8000/`, { host: 'unknown.example' });
    expect(r.status).toBe(404);
    expect(r.headers!['x-pilotfish-flags']).toBe('NR');
  });

  it('(c) the sidecar\'s own upstream connection (uid 1337) is exempt, not looped back', async () => {
    const [redirectBefore, exemptBefore] = [await redirected(), await proxyExempt()];
    // remote-d is used by this test only, so the sidecar must open a new connection to it (the nat
    // table sees only a connection's first packet; a pooled connection would not show).
    const r = await get(t.pod, `http://${t.remoteIp}:8000/`, { host: 'loop.test' });
    expect(r.body!.name).toBe('remote-d');
    // One hop: a looped request would have passed the sidecar twice and carry two addresses.
    expect(r.body!.headers['x-forwarded-for']).toBe(t.podIp);
    expect(plain(r.body!.remoteAddress)).toBe(t.podIp);
    // Exactly the client's connection was redirected; the sidecar's went out through the uid rule.
    expect(await redirected()).toBe(redirectBefore + 1);
    expect(await proxyExempt()).toBe(exemptBefore + 1);
  });

  it('(c) any uid 1337 process goes straight out: the exemption is by uid', async () => {
    const before = await redirected();
    const r = await get(t.pod, `http://${t.remoteIp}:8000/`, { asProxy: true });
    expect(r.body!.name).toBe('remote-a');
    expect(r.body!.headers['x-request-id']).toBeUndefined();
    expect(await redirected()).toBe(before);
  });

  it('leaves excluded outbound ports and CIDRs alone', async () => {
    const before = await redirected();
    const port = await get(t.pod, `http://${t.remoteIp}:8002/`);
    expect(port.body!.name).toBe('remote-c');
    expect(port.body!.headers['x-request-id']).toBeUndefined();
    const cidr = await get(t.pod, `http://${t.remoteIp2}:8000/`);
    expect(cidr.body!.name).toBe('remote-a');
    expect(cidr.body!.headers['x-request-id']).toBeUndefined();
    expect(await redirected()).toBe(before);
  });

  it('(b) inbound calls to the app port reach the app through the inbound listener 15006', async () => {
    const before = await inRedirected();
    const r = await get(t.remote, `http://${t.podIp}:8080/checkout`);
    expect(r.status).toBe(200);
    expect(r.body!.name).toBe('app');
    expect(r.body!.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.body!.headers['x-forwarded-for']).toBe(t.remoteIp);
    // The app sees the sidecar's loopback connection, not the remote peer.
    expect(plain(r.body!.remoteAddress)).toBe('127.0.0.1');
    expect(await inRedirected()).toBe(before + 1);
  });

  it('(b) leaves the telemetry port and excluded inbound ports alone', async () => {
    const before = await inRedirected();
    const ready = await get(t.remote, `http://${t.podIp}:15020/healthz/ready`);
    expect(ready.status).toBe(200);
    const metrics = await get(t.remote, `http://${t.podIp}:9100/metrics`);
    expect(metrics.body!.name).toBe('app-metrics');
    expect(metrics.body!.headers['x-request-id']).toBeUndefined();
    expect(await inRedirected()).toBe(before);
  });

  it('captures IPv6 both ways too', async (ctx) => {
    if (!ipv6) skipNow(ctx, 'IPv6 capture: the init container could not apply IPv6 rules here (no IPv6 in the namespace, or no ip6tables)');
    const out = await get(t.pod, `http://[${t.remoteIp6}]:8000/`);
    expect(out.body!.name).toBe('remote-b');
    expect(out.body!.headers['x-forwarded-for']).toBe(t.podIp6);
    const before = await packets(t.pod, 'PILOTFISH_IN_REDIRECT', /REDIRECT --to-ports 15006/, 6);
    const inbound = await get(t.remote, `http://[${t.podIp6}]:8080/`);
    expect(inbound.body!.name).toBe('app');
    expect(inbound.body!.headers['x-forwarded-for']).toBe(t.remoteIp6);
    expect(await packets(t.pod, 'PILOTFISH_IN_REDIRECT', /REDIRECT --to-ports 15006/, 6)).toBe(before + 1);
  });

  it('re-applying replaces the rules instead of stacking them', async () => {
    const again = await initCapture(...CAPTURE_FLAGS);
    expect(again.code, again.stderr).toBe(0);
    const rules = (await natCounters(t.pod)).map(([, r]) => r);
    expect(rules.filter((r) => r === '-A PREROUTING -p tcp -j PILOTFISH_INBOUND')).toHaveLength(1);
    expect(rules.filter((r) => r === '-A OUTPUT -p tcp -j PILOTFISH_OUTPUT')).toHaveLength(1);
    expect(rules.filter((r) => r.includes('--uid-owner 1337'))).toHaveLength(1);
    expect((await get(t.pod, `http://${t.remoteIp}:8000/`)).body!.name).toBe('remote-b');
  });

  it('--cleanup removes the capture: the same call then goes straight to where it was dialed', async () => {
    const cleaned = await initCapture('--cleanup');
    expect(cleaned.code, cleaned.stderr).toBe(0);
    const saved = await sh('ip', ['netns', 'exec', t.pod, 'iptables-save', '-t', 'nat']);
    expect(saved.stdout).not.toContain('PILOTFISH');
    const r = await get(t.pod, `http://${t.remoteIp}:8000/`);
    expect(r.body!.name).toBe('remote-a');
    expect(r.body!.headers['x-request-id']).toBeUndefined();
  });
});
