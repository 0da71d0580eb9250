import { afterEach, describe, expect, it } from 'vitest';
import { DnsEndpoints, isDnsName, systemResolver, type Resolver } from './dns-endpoints.js';
import type { Endpoint } from './endpoint.js';

const open: DnsEndpoints[] = [];
afterEach(() => { for (const d of open.splice(0)) d.dispose(); });

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('isDnsName', () => {
  it.each([['reviews.default.svc:9080', true], ['10.0.0.1:80', false], ['[::1]:80', false], ['localhost:1', true]] as const)('%s → %s', (a, want) => {
    expect(isDnsName(a)).toBe(want);
  });
});

describe('DnsEndpoints', () => {
  it('turns every record into an endpoint with the entry labels, beside static addresses', async () => {
    const resolver: Resolver = async () => ['10.1.0.1', '10.1.0.2', 'fd00::1'];
    const d = new DnsEndpoints([{ address: 'reviews:9080', labels: { version: 'v2' } }, { address: '10.0.0.9:80', labels: {} }], 60_000, () => {}, resolver);
    open.push(d);
    await d.start();
    expect(d.current().map((e) => [e.address, e.labels])).toEqual([
      ['10.0.0.9:80', {}], ['10.1.0.1:9080', { version: 'v2' }], ['10.1.0.2:9080', { version: 'v2' }], ['[fd00::1]:9080', { version: 'v2' }],
    ]);
  });

  it('re-resolves every refresh, reports changes, and keeps the last good set when resolution fails', async () => {
    const answers: Array<string[] | Error> = [['10.1.0.1', '10.1.0.2'], new Error('SERVFAIL'), ['10.1.0.2']];
    let calls = 0;
    const resolver: Resolver = async () => {
      const a = answers[Math.min(calls++, answers.length - 1)]!;
      if (a instanceof Error) throw a;
      return a;
    };
    const seen: string[][] = [];
    const errors: string[] = [];
    const d = new DnsEndpoints([{ address: 'svc:80', labels: {} }], 1000, (list: Endpoint[]) => seen.push(list.map((e) => e.address)), resolver, (_n, e) => errors.push(String(e)));
    open.push(d);
    await d.start();
    expect(d.current().map((e) => e.address)).toEqual(['10.1.0.1:80', '10.1.0.2:80']);
    await until(() => errors.length === 1);
    expect(d.current().map((e) => e.address)).toEqual(['10.1.0.1:80', '10.1.0.2:80']); // last good kept
    await until(() => seen.length === 2);
    expect(seen).toEqual([['10.1.0.1:80', '10.1.0.2:80'], ['10.1.0.2:80']]);
  }, 10_000);

  it('resolves a real name with the system resolver', async () => {
    expect(await systemResolver('localhost')).toContain('127.0.0.1');
  });
});
