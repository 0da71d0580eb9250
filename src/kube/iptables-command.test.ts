import { describe, expect, it } from 'vitest';
import type { CommandIo } from './command-io.js';
import type { Exec, ExecResult } from './iptables-apply.js';
import { iptablesCommand, type IptablesDeps } from './iptables-command.js';

interface Call { cmd: string; args: readonly string[]; input: string | undefined }

/**
 * A fake iptables: keeps a nat table per family as iptables-save would print it, applies the
 * restore input line by line (chain declarations flush, -A appends, -D/-F/-X remove), and records
 * each call. Enough to exercise the apply logic without root.
 */
function fakeIptables(fail: Partial<Record<string, ExecResult>> = {}): { exec: Exec; calls: Call[]; table: (family: 4 | 6) => string[] } {
  const tables: Record<4 | 6, { chains: Set<string>; rules: string[] }> = {
    4: { chains: new Set(), rules: [] },
    6: { chains: new Set(), rules: [] },
  };
  const calls: Call[] = [];
  const exec: Exec = async (cmd, args, input) => {
    calls.push({ cmd, args, input });
    const failure = fail[cmd];
    if (failure) return failure;
    const t = tables[cmd.startsWith('ip6') ? 6 : 4];
    if (cmd.endsWith('-save')) {
      const out = ['*nat', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ...[...t.chains].map((c) => `:${c} - [0:0]`), ...t.rules, 'COMMIT', ''];
      return { code: 0, stdout: out.join('\n'), stderr: '' };
    }
    for (const line of (input ?? '').split('\n')) {
      const chain = line.split(' ')[1] ?? '';
      if (line.startsWith(':')) { t.chains.add(line.slice(1).split(' ')[0]!); t.rules = t.rules.filter((r) => !r.startsWith(`-A ${line.slice(1).split(' ')[0]} `)); }
      else if (line.startsWith('-A ')) t.rules.push(line);
      else if (line.startsWith('-D ')) t.rules.splice(t.rules.indexOf(`-A ${line.slice(3)}`), 1);
      else if (line.startsWith('-F ')) t.rules = t.rules.filter((r) => !r.startsWith(`-A ${chain} `));
      else if (line.startsWith('-X ')) t.chains.delete(chain);
    }
    return { code: 0, stdout: '', stderr: '' };
  };
  return { exec, calls, table: (family) => tables[family].rules };
}

function captureIo(): CommandIo & { out: string; err: string } {
  const io = { out: '', err: '', stdout: (t: string) => { io.out += t; }, stderr: (t: string) => { io.err += t; }, readStdin: async () => '' };
  return io;
}

const deps = (exec: Exec, ipv6 = false): IptablesDeps => ({ exec, ipv6Enabled: () => ipv6 });

describe('pilotfish iptables', () => {
  it('--dry-run prints restore input for both families and runs nothing', async () => {
    const fake = fakeIptables();
    const io = captureIo();
    expect(await iptablesCommand(['--dry-run', '--exclude-outbound-cidrs', '10.1.0.0/16,fd00::/8'], io, deps(fake.exec))).toBe(0);
    expect(fake.calls).toEqual([]);
    expect(io.out).toContain('# iptables-restore --noflush\n*nat\n');
    expect(io.out).toContain('# ip6tables-restore --noflush');
    expect(io.out).toContain('-A PILOTFISH_OUTPUT -d 10.1.0.0/16 -j RETURN');
    expect(io.out).toContain('-A PILOTFISH_OUTPUT -d fd00::/8 -j RETURN');
    expect(io.out.match(/^COMMIT$/gm)).toHaveLength(2);
  });

  it('--ipv6 off leaves IPv6 out of a dry run', async () => {
    const io = captureIo();
    expect(await iptablesCommand(['--dry-run', '--ipv6', 'off'], io, deps(fakeIptables().exec))).toBe(0);
    expect(io.out).not.toContain('ip6tables');
  });

  it('applies with iptables-restore --noflush, and re-applying replaces instead of duplicating', async () => {
    const fake = fakeIptables();
    const io = captureIo();
    expect(await iptablesCommand(['--exclude-inbound-ports', '22'], io, deps(fake.exec))).toBe(0);
    expect(fake.calls.map((c) => [c.cmd, ...c.args].join(' '))).toEqual(['iptables-save -t nat', 'iptables-restore --noflush']);
    const first = [...fake.table(4)];
    expect(first).toContain('-A PREROUTING -p tcp -j PILOTFISH_INBOUND');
    expect(first).toContain('-A PILOTFISH_INBOUND -p tcp --dport 22 -j RETURN');
    expect(io.out).toContain('# IPv4: applied with iptables-restore --noflush');

    expect(await iptablesCommand(['--exclude-inbound-ports', '2222'], captureIo(), deps(fake.exec))).toBe(0);
    const second = fake.table(4);
    expect(second.filter((r) => r === '-A PREROUTING -p tcp -j PILOTFISH_INBOUND')).toHaveLength(1);
    expect(second.filter((r) => r === '-A OUTPUT -p tcp -j PILOTFISH_OUTPUT')).toHaveLength(1);
    expect(second).toContain('-A PILOTFISH_INBOUND -p tcp --dport 2222 -j RETURN');
    expect(second).not.toContain('-A PILOTFISH_INBOUND -p tcp --dport 22 -j RETURN');
  });

  it('--cleanup removes only our rules', async () => {
    const fake = fakeIptables();
    await iptablesCommand([], captureIo(), deps(fake.exec));
    await fake.exec('iptables-restore', ['--noflush'], '*nat\n-A OUTPUT -p udp -j ACCEPT\nCOMMIT\n');
    const io = captureIo();
    expect(await iptablesCommand(['--cleanup'], io, deps(fake.exec))).toBe(0);
    expect(fake.table(4)).toEqual(['-A OUTPUT -p udp -j ACCEPT']);
    expect(await iptablesCommand(['--cleanup'], io, deps(fake.exec))).toBe(0);
    expect(io.out).toContain('no Pilotfish rules installed');
  });

  it('with --ipv6 auto, applies IPv6 where the namespace has it, and only reports an IPv6 failure', async () => {
    const ok = fakeIptables();
    expect(await iptablesCommand([], captureIo(), deps(ok.exec, true))).toBe(0);
    expect(ok.table(6)).toContain('-A OUTPUT -p tcp -j PILOTFISH_OUTPUT');

    const broken = fakeIptables({ 'ip6tables-save': { code: 3, stdout: '', stderr: "can't initialize ip6tables table `nat'" } });
    const io = captureIo();
    expect(await iptablesCommand([], io, deps(broken.exec, true))).toBe(0);
    expect(io.err).toMatch(/IPv6 skipped: ip6tables-save -t nat failed \(exit 3\): can't initialize/);
    expect(broken.table(4)).toContain('-A OUTPUT -p tcp -j PILOTFISH_OUTPUT');

    const none = fakeIptables();
    await iptablesCommand([], captureIo(), deps(none.exec, false));
    expect(none.calls.some((c) => c.cmd.startsWith('ip6'))).toBe(false);
  });

  it('fails with exit 1 when a required family cannot be applied', async () => {
    const io = captureIo();
    const fake = fakeIptables({ 'ip6tables-restore': { code: 2, stdout: '', stderr: 'line 3 failed' } });
    expect(await iptablesCommand(['--ipv6', 'on'], io, deps(fake.exec, false))).toBe(1);
    expect(io.err).toContain('ip6tables-restore --noflush failed (exit 2): line 3 failed');

    const missing = fakeIptables({ 'iptables-save': { code: -1, stdout: '', stderr: 'iptables-save: spawn iptables-save ENOENT' } });
    expect(await iptablesCommand([], io, deps(missing.exec))).toBe(1);
    expect(io.err).toContain('ENOENT');
  });

  it('calls the chosen backend', async () => {
    const fake = fakeIptables();
    await iptablesCommand(['--backend', 'legacy'], captureIo(), deps(fake.exec));
    expect(fake.calls.map((c) => c.cmd)).toEqual(['iptables-legacy-save', 'iptables-legacy-restore']);
  });

  it.each([
    [['--exclude-inbound-ports', '80,x'], /--exclude-inbound-ports: invalid port "x"/],
    [['--exclude-outbound-cidrs', '10.0.0.0/40'], /invalid prefix length/],
    [['--ipv6', 'maybe'], /--ipv6 must be auto, on or off/],
    [['--backend', 'ebpf'], /--backend must be/],
    [['--dry-run', '--cleanup'], /exclude each other/],
    [['--frobnicate'], /Unknown option/],
    [['--proxy-uid=-1'], /invalid uid/],
    [['--proxy-uid', 'nobody'], /invalid uid/],
  ])('rejects %j with exit 2', async (args, message) => {
    const fake = fakeIptables();
    const io = captureIo();
    expect(await iptablesCommand(args, io, deps(fake.exec))).toBe(2);
    expect(io.err).toMatch(message);
    expect(fake.calls).toEqual([]);
  });
});
