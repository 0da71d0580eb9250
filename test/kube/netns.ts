/**
 * Network namespaces for the capture test: a "pod" and a "remote" namespace joined by a veth pair,
 * with private addresses that exist only inside them, and helpers to run processes there. Every
 * namespace and process made here is recorded so `teardown` removes them, even after a failure.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const FIXTURES = path.resolve(import.meta.dirname, 'fixtures');
const HOOKS = path.join(FIXTURES, 'ts-hooks.mjs');
/** Node flags that let a child process run the TypeScript sources directly. */
export const TS_NODE = [process.execPath, '--experimental-transform-types', '--no-warnings', '--import', HOOKS];

export interface Result { code: number; stdout: string; stderr: string }

/** Runs a command to completion; never throws for a non-zero exit (the caller asserts). */
export async function sh(cmd: string, args: readonly string[], timeoutMs = 15_000): Promise<Result> {
  try {
    const { stdout, stderr } = await run(cmd, args, { timeout: timeoutMs, maxBuffer: 4 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr || e.message };
  }
}

async function must(cmd: string, args: readonly string[]): Promise<string> {
  const r = await sh(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export interface Support { ok: boolean; reason: string }

/**
 * Whether this kernel (and user) lets us make network namespaces with a nat table in them, found by
 * trying. The programs themselves are checked first with `needs()` (test/helpers/system.ts).
 */
export async function probeSupport(): Promise<Support> {
  const name = `pf-probe-${process.pid}`;
  const add = await sh('ip', ['netns', 'add', name]);
  if (add.code !== 0) return { ok: false, reason: `cannot create a network namespace here, run as root (ip netns add: ${add.stderr.trim()})` };
  try {
    const nat = await sh('ip', ['netns', 'exec', name, 'iptables-save', '-t', 'nat']);
    if (nat.code !== 0 && /table does not exist|insmod|Protocol not supported|Operation not supported/i.test(nat.stderr)) {
      return { ok: false, reason: `the kernel has no nat table in network namespaces (${nat.stderr.trim()})` };
    }
    return { ok: true, reason: '' };
  } finally {
    await sh('ip', ['netns', 'del', name]);
  }
}

export interface Topology {
  readonly pod: string;
  readonly remote: string;
  readonly podIp: string;
  readonly remoteIp: string;
  /** A second remote address, for the excluded-CIDR case. */
  readonly remoteIp2: string;
  readonly podIp6: string;
  readonly remoteIp6: string;
}

/** Namespaces and processes to remove at the end, whatever happened. */
export class Lab {
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];

  /** pod ⇄ remote over a veth pair, IPv4 in 10.251.N.0/24 and IPv6 in fd7a:f15e:N::/64. */
  async topology(): Promise<Topology> {
    const n = 20 + (process.pid % 200);
    const t: Topology = {
      pod: `pf-pod-${process.pid}`, remote: `pf-remote-${process.pid}`,
      podIp: `10.251.${n}.1`, remoteIp: `10.251.${n}.2`, remoteIp2: `10.251.${n}.3`,
      podIp6: `fd7a:f15e:${n}::1`, remoteIp6: `fd7a:f15e:${n}::2`,
    };
    for (const ns of [t.pod, t.remote]) { await must('ip', ['netns', 'add', ns]); this.namespaces.push(ns); }
    const [a, b] = [`pfp${process.pid}`, `pfr${process.pid}`];
    await must('ip', ['link', 'add', a, 'netns', t.pod, 'type', 'veth', 'peer', 'name', b, 'netns', t.remote]);
    const inNs = (ns: string, ...args: string[]): Promise<string> => must('ip', ['netns', 'exec', ns, 'ip', ...args]);
    await inNs(t.pod, 'addr', 'add', `${t.podIp}/24`, 'dev', a);
    await inNs(t.remote, 'addr', 'add', `${t.remoteIp}/24`, 'dev', b);
    await inNs(t.remote, 'addr', 'add', `${t.remoteIp2}/24`, 'dev', b);
    // nodad: usable at once instead of after duplicate address detection (a second or two).
    await inNs(t.pod, '-6', 'addr', 'add', `${t.podIp6}/64`, 'dev', a, 'nodad');
    await inNs(t.remote, '-6', 'addr', 'add', `${t.remoteIp6}/64`, 'dev', b, 'nodad');
    for (const [ns, dev] of [[t.pod, a], [t.remote, b]] as const) {
      await inNs(ns, 'link', 'set', 'lo', 'up');
      await inNs(ns, 'link', 'set', dev, 'up');
    }
    return t;
  }

  /** Starts a long-running process in a namespace; resolves with its first stdout line matching `ready`. */
  async start(ns: string, argv: readonly string[], ready: RegExp, timeoutMs = 30_000): Promise<{ child: ChildProcess; line: string }> {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(child);
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-4000); });
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${argv.join(' ')}: not ready after ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (l) => { if (ready.test(l)) { clearTimeout(timer); resolve(l); } });
      child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${argv.join(' ')} exited with ${code}; stderr: ${stderr}`)); });
    });
    child.stdout!.resume();
    return { child, line };
  }

  async teardown(): Promise<void> {
    await Promise.all(this.children.map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) { resolve(); return; }
      const kill = setTimeout(() => c.kill('SIGKILL'), 2000);
      c.once('exit', () => { clearTimeout(kill); resolve(); });
      c.kill('SIGTERM');
    })));
    // Deleting a namespace also deletes the veth end inside it, and with it the pair.
    for (const ns of this.namespaces.reverse()) await sh('ip', ['netns', 'del', ns]);
  }
}

/** Packet counters of the nat rules in a namespace, as `[packets, rule]` pairs. */
export async function natCounters(ns: string, family: 4 | 6 = 4): Promise<Array<[number, string]>> {
  const out = await must('ip', ['netns', 'exec', ns, family === 4 ? 'iptables-save' : 'ip6tables-save', '-c', '-t', 'nat']);
  return out.split('\n').flatMap((l) => {
    const m = /^\[(\d+):\d+\]\s+(-A .*)$/.exec(l);
    return m ? [[Number(m[1]), m[2]!] as [number, string]] : [];
  });
}

/** Packets counted so far by the rules of `chain` whose text matches `rule`. */
export async function packets(ns: string, chain: string, rule: RegExp, family: 4 | 6 = 4): Promise<number> {
  return (await natCounters(ns, family))
    .filter(([, text]) => text.startsWith(`-A ${chain} `) && rule.test(text))
    .reduce((sum, [n]) => sum + n, 0);
}
