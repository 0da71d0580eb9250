import { describe, expect, it } from 'vitest';
import { compileRegex } from './regex.js';
import { literalPrefix, literalPrefixes } from './regex-prefixes.js';

describe('compileRegex', () => {
  it('is a full match', () => {
    const r = compileRegex('/api/.*');
    expect(r.ok && r.regex.test('/api/x')).toBe(true);
    expect(r.ok && r.regex.test('/x/api/x')).toBe(false);
  });
  it.each([
    ['(a+)+b', 'a'.repeat(5000)],
    ['(a|a)*b', 'a'.repeat(5000)],
    ['(x+x+)+y', 'x'.repeat(5000)],
    ['(.*a){10}', `${'a'.repeat(3000)}b`],
  ])('runs catastrophic pattern %s in linear time', (source, input) => {
    const r = compileRegex(source);
    if (!r.ok) throw new Error(r.error);
    const start = performance.now();
    expect(r.regex.test(input)).toBe(false);
    // A backtracking engine needs longer than the age of the universe; the linear engine ~1 ms.
    expect(performance.now() - start).toBeLessThan(500);
  });
  it('rejects backreferences and lookaround', () => {
    expect(compileRegex('(a)\\1')).toMatchObject({ ok: false, error: expect.stringMatching(/linear time/) });
    expect(compileRegex('a(?=b)').ok).toBe(false);
    // Lookbehind is accepted: V8's linear engine runs it in linear time.
    expect(compileRegex('(?<!a)b').ok).toBe(true);
  });
  it('rejects counted repetitions too large for the linear engine', () => {
    expect(compileRegex('(.*a){500}')).toMatchObject({ ok: false, error: expect.stringMatching(/linear time/) });
  });
  it('reports syntax errors', () => {
    expect(compileRegex('(').ok).toBe(false);
  });
});

describe('literal heads of regexes', () => {
  it.each<[string, string[], string]>([
    ['/api/v[0-9]+/.*', ['/api/v'], '/api/v'],
    ['/api/users', ['/api/users'], '/api/users'],
    ['/ab?', ['/a'], '/a'],
    ['/ab*c', ['/a'], '/a'],
    ['/ab+c', ['/a'], '/a'],
    ['/ab{2}', ['/a'], '/a'],
    ['/a/x|/b/.*', ['/a/x', '/b/'], '/'],
    ['/a/(x|y)', ['/a/x', '/a/y'], '/a/'],
    ['/(users|orders)/[0-9]+', ['/users', '/orders'], '/'],
    ['/(?:v1|v2)/x', ['/v1', '/v2'], '/v'],
    ['/(a|ab)c', ['/a'], '/a'],
    ['/(a|)x', ['/'], '/'],
    ['/(a|b)?x', ['/'], '/'],
    ['/(a|b)+x', ['/'], '/'],
    ['/((a|b)c|d)', ['/a', '/b', '/d'], '/'], // the analysis stops after a group
    ['/(?<n>a)', ['/'], '/'],
    ['\\/api', [''], ''],
    ['^/a', [''], ''],
    ['.*\\.png', [''], ''],
    ['/a.b', ['/a'], '/a'],
    ['/v[|]x', ['/v'], '/v'],
    ['/v\\|x', ['/v'], '/v'], // an escaped pipe is a literal
    ['/a/(x|y)|/b', ['/a/x', '/a/y', '/b'], '/'],
    ['/(x[)]|y)', ['/x', '/y'], '/'],
    ['/(a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p|q)', ['/'], '/'],
  ])('%s → %j (common %j)', (source, want, common) => {
    expect(literalPrefixes(source).sort()).toEqual([...want].sort());
    expect(literalPrefix(source)).toBe(common);
  });

  it('are sound: every full match starts with one of them (sampled)', () => {
    const sources = ['/ab?c*', '/x(y|z)+', '/a[bc]d', '/v1/.*', '/a|/b', '/a/(x|y)|/b', '/a[|]b', '/(a|ab)c', '/((a|b)c|d)', '/(a|)b', '/(?:x|y)z?'];
    const inputs = ['/a', '/ab', '/abc', '/ac', '/xy', '/xzz', '/abd', '/acd', '/v1/x', '/b', '/abcc', '/a/x', '/a|b',
      '/abc', '/d', '/bc', '/xz', '/y', '/x', '/yz', '/b'];
    let matched = 0;
    for (const s of sources) {
      const r = compileRegex(s);
      if (!r.ok) throw new Error(r.error);
      const heads = literalPrefixes(s);
      for (const i of inputs) {
        if (!r.regex.test(i)) continue;
        matched++;
        expect(heads.some((h) => i.startsWith(h)), `${i} vs ${s} heads ${JSON.stringify(heads)}`).toBe(true);
        expect(i.startsWith(literalPrefix(s))).toBe(true);
      }
    }
    expect(matched).toBeGreaterThan(15);
  });
});
