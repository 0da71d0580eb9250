import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { formatDiagnostic, parsePolicy } from './load.js';
import { PolicyMemory } from './policy-memory.js';
import { policySchema } from './schema.js';

const demo = parseYaml(readFileSync(new URL('../../config/policy.yaml', import.meta.url), 'utf8')) as Record<string, unknown>;

const flip = (color: string) => ({
  version: 1,
  listeners: { outbound: { port: 0 }, inbound: { port: 0 }, admin: { port: 0 }, telemetry: { port: 0 } },
  upstreams: {
    blue: { endpoints: [{ address: '127.0.0.1:1' }] },
    green: { endpoints: [{ address: '127.0.0.1:2' }] },
  },
  routes: [
    { name: 'web', match: { host: 'web' }, to: [{ upstream: color }] },
    { name: 'api', match: { host: 'api' }, timeout: '2s', to: [{ upstream: 'blue' }] },
  ],
});

describe('PolicyMemory', () => {
  it.each([
    ['the demo policy', demo],
    ['a minimal one', { version: 1 }],
    ['one with an identity (the inbound TLS default follows it)', { version: 1, identity: { cert: 'c.pem', key: 'k.pem', ca: 'ca.pem', trustDomain: 'mesh.local' } }],
    ['a flip', JSON.parse(JSON.stringify(flip('green')))],
  ])('gives exactly what the whole schema gives: %s', (_, value) => {
    const whole = policySchema.safeParse(value);
    const memory = new PolicyMemory();
    const first = memory.check(value);
    expect(first === undefined).toBe(!whole.success);
    if (!whole.success) return;
    expect(isDeepStrictEqual(first, whole.data)).toBe(true);
    // Remembered, the second time: still the same value.
    expect(isDeepStrictEqual(memory.check(structuredClone(value)), whole.data)).toBe(true);
  });

  it('hands an unchanged part back as the same object, and validates what changed', () => {
    const memory = new PolicyMemory();
    const a = memory.check(JSON.parse(JSON.stringify(flip('blue'))))!;
    const b = memory.check(JSON.parse(JSON.stringify(flip('green'))))!;
    expect(b.upstreams.blue).toBe(a.upstreams.blue);
    expect(b.routes[1]).toBe(a.routes[1]);
    expect(b.overload).toBe(a.overload);
    expect(b.routes[0]).not.toBe(a.routes[0]);
    expect(b.routes[0]!.to).toEqual([{ upstream: 'green' }]);
    expect(b.routes[1]!.timeout).toBe(2000);
  });

  it('passes nothing invalid: a bad part, an unknown key, a missing version — the whole schema reports them', () => {
    const memory = new PolicyMemory();
    const good = flip('blue');
    expect(memory.check(good)).toBeDefined();
    expect(memory.check({ ...good, routes: [{ ...good.routes[0], timeout: 'soon' }] })).toBeUndefined();
    expect(memory.check({ ...good, extra: true })).toBeUndefined();
    const { version: _v, ...noVersion } = good;
    expect(memory.check(noVersion)).toBeUndefined();
    expect(memory.check({ ...good, upstreams: { 'bad name': good.upstreams.blue } })).toBeUndefined();
    expect(memory.check([good])).toBeUndefined();
  });

  it('through parsePolicy, an invalid part is reported at its file:line:col as without memory', () => {
    const memory = new PolicyMemory();
    const text = (t: string) => `version: 1\nroutes:\n  - name: web\n    match: { host: web }\n    timeout: ${t}\n    to: [{ upstream: app }]\n`;
    expect(parsePolicy(text('1s'), 'p.yaml', {}, undefined, memory).ok).toBe(true);
    const bad = parsePolicy(text('soon'), 'p.yaml', {}, undefined, memory);
    const without = parsePolicy(text('soon'), 'p.yaml');
    expect(bad.ok).toBe(false);
    if (bad.ok || without.ok) return;
    expect(bad.errors.map(formatDiagnostic)).toEqual(without.errors.map(formatDiagnostic));
    expect(bad.errors.map(formatDiagnostic)[0]).toMatch(/^p\.yaml:5:14 routes\[0\]\.timeout: invalid duration/);
  });
});
