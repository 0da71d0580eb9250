import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.js';
import { formatDiagnostic, parsePolicy } from './load.js';

const errorsOf = (text: string, file = 'p.yaml'): string[] => {
  const r = parsePolicy(text, file);
  return r.ok ? [] : r.errors.map(formatDiagnostic);
};

describe('parseDuration', () => {
  it.each([
    ['250ms', 250], ['1s', 1000], ['1.5s', 1500], ['2m', 120_000], ['1h', 3_600_000], ['500us', 0.5], [42, 42], [0, 0],
  ] as const)('%s → %d ms', (input, ms) => expect(parseDuration(input)).toBe(ms));
  it.each(['', '1', '1 s', '-1s', 's', '1d', '1e3ms'])('rejects %j', (input) => expect(parseDuration(input)).toBeUndefined());
  it('rejects negative and non-finite numbers', () => {
    expect(parseDuration(-1)).toBeUndefined();
    expect(parseDuration(Infinity)).toBeUndefined();
  });
});

describe('parsePolicy', () => {
  it('fills every default of a minimal policy', () => {
    const r = parsePolicy('version: 1\n', 'p.yaml');
    if (!r.ok) throw new Error(r.errors.map(formatDiagnostic).join('\n'));
    const edge = { maxConnections: 10_000, headersTimeout: 10_000, maxRequestHeadersKb: 60, maxHeadersCount: 100 };
    expect(r.policy.listeners).toEqual({
      outbound: { port: 15001, address: '0.0.0.0', ...edge },
      inbound: { port: 15006, address: '0.0.0.0', app: 'http://127.0.0.1:8080', appProtocol: 'downstream', ...edge, tls: { mode: 'disable' } },
      admin: { port: 15000, address: '127.0.0.1' },
      telemetry: { port: 15020, address: '0.0.0.0' },
    });
    expect(r.policy.overload).toEqual({ shedAbove: 90, resumeBelow: 80, interval: 250 });
    expect(r.policy.outboundTrafficPolicy).toBe('registry-only');
    expect(r.policy.routes).toEqual([]);
  });

  it('checks edge limits and overload settings, with positions', () => {
    const r = parsePolicy(`version: 1
listeners:
  outbound: { maxConnections: 0, headersTimeout: soon, maxRequestHeadersKb: 9000 }
overload: { shedAbove: 80, resumeBelow: 85 }
`, 'p.yaml');
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.errors.map(formatDiagnostic)).toEqual([
      expect.stringMatching(/^p\.yaml:3:31 listeners\.outbound\.maxConnections: /),
      expect.stringMatching(/^p\.yaml:3:50 listeners\.outbound\.headersTimeout: invalid duration "soon"/),
      expect.stringMatching(/^p\.yaml:3:77 listeners\.outbound\.maxRequestHeadersKb: /),
      'p.yaml:4:41 overload.resumeBelow: resumeBelow must be below shedAbove',
    ]);
  });

  it('resolves route and upstream defaults (Envoy defaults where it has one)', () => {
    const r = parsePolicy(`version: 1
upstreams: { a: { endpoints: [{ address: "a:80" }], outlierDetection: {} } }
routes: [{ name: r, to: [{ upstream: a }], retries: { attempts: 2 } }]
`, 'p.yaml');
    if (!r.ok) throw new Error(r.errors.map(formatDiagnostic).join('\n'));
    const route = r.policy.routes[0]!;
    expect(route.timeout).toBe(15_000);
    expect(route.direction).toBe('outbound');
    expect(route.retries).toMatchObject({ attempts: 2, backoff: { base: 25, max: 250 }, budget: { percent: 20, minPerSecond: 10 }, nonIdempotent: false });
    const up = r.policy.upstreams.a!;
    expect(up.connectionPool.connectTimeout).toBe(5000);
    expect(up.outlierDetection).toEqual({ consecutive5xx: 5, interval: 10_000, baseEjectionTime: 30_000, maxEjectionPercent: 10 });
  });

  it('reads JSON policies with positions too', () => {
    const errs = errorsOf('{\n  "version": 1,\n  "listeners": { "outbound": { "port": "x" } }\n}', 'p.json');
    expect(errs).toEqual(['p.json:3:40 listeners.outbound.port: Invalid input: expected number, received string']);
  });

  it('rejects unknown keys at any depth, pointing at the key', () => {
    expect(errorsOf('version: 1\nupstreams:\n  a:\n    endpoints: [{ address: "a:1", lables: {} }]\n'))
      .toEqual(['p.yaml:4:35 upstreams.a.endpoints[0].lables: unknown key "lables"']);
  });

  it('names missing required keys', () => {
    expect(errorsOf('version: 1\nupstreams: { a: {} }\n')).toEqual(['p.yaml:2:17 upstreams.a.endpoints: missing required key (expected array)']);
  });

  it('rejects percentages out of range and path matches without a leading slash', () => {
    const errs = errorsOf(`version: 1
upstreams: { a: { endpoints: [{ address: "a:80" }] } }
routes:
  - name: r
    match: { path: { exact: nope } }
    to: [{ upstream: a }]
    fault: { abort: { status: 503, percent: 101 } }
`);
    expect(errs).toHaveLength(2);
    expect(errs[0]).toMatch(/^p\.yaml:5:29 routes\[0\]\.match\.path\.exact: /);
    expect(errs[1]).toMatch(/^p\.yaml:7:45 routes\[0\]\.fault\.abort\.percent: .*100/);
  });

  it('rejects regexes that cannot run in linear time', () => {
    const errs = errorsOf(`version: 1
upstreams: { a: { endpoints: [{ address: "a:80" }] } }
routes: [{ name: r, match: { path: { regex: "(a)\\\\1" } }, to: [{ upstream: a }] }]
`);
    expect(errs).toEqual([expect.stringMatching(/^p\.yaml:3:45 routes\[0\]\.match\.path\.regex: regex .* rejected: not executable in linear time/)]);
  });

  it('rejects duplicate keys, empty files and duplicate route names', () => {
    expect(errorsOf('version: 1\nversion: 1\n')[0]).toMatch(/^p\.yaml:2:1 \(syntax\): .*unique/i);
    expect(errorsOf('')).toEqual(['p.yaml:1:1 (root): policy is empty']);
    expect(errorsOf(`version: 1
upstreams: { a: { endpoints: [{ address: "a:80" }] } }
routes: [{ name: r, to: [{ upstream: a }] }, { name: r, to: [{ upstream: a }] }]
`)).toEqual(['p.yaml:3:54 routes[1].name: duplicate route name "r" (first at routes[0])']);
  });

  it('warns about subsets that select no endpoint', () => {
    const r = parsePolicy('version: 1\nupstreams: { a: { endpoints: [{ address: "a:80" }], subsets: { v2: { version: v2 } } } }\n', 'p.yaml');
    expect(r.ok).toBe(true);
    expect(r.warnings.map(formatDiagnostic)).toEqual(['p.yaml:2:68 upstreams.a.subsets.v2: warning: subset "v2" selects no endpoint']);
  });

  it('shared sticky sessions need a fleet: an error without one, fine with one, a warning when it cannot be told (validate)', () => {
    const text = `version: 1
upstreams: { a: { endpoints: [{ address: "a:80" }] } }
routes:
  - name: r
    to: [{ upstream: a }]
    sticky: { cookie: { name: s, shared: true } }
`;
    const without = parsePolicy(text, 'p.yaml', { fleet: false });
    expect(without.ok ? [] : without.errors.map(formatDiagnostic)).toEqual(['p.yaml:6:42 routes[0].sticky.cookie.shared: shared sessions need a fleet (pilotfish run --fleet URL)']);
    const withFleet = parsePolicy(text, 'p.yaml', { fleet: true });
    expect(withFleet.ok && withFleet.warnings).toEqual([]);
    const unknown = parsePolicy(text, 'p.yaml');
    expect(unknown.ok).toBe(true);
    expect(unknown.warnings.map(formatDiagnostic)).toEqual([expect.stringMatching(/^p\.yaml:6:42 routes\[0\]\.sticky\.cookie\.shared: warning: shared sessions need a fleet: valid for `publish` and `run --fleet`/)]);
  });
});

// Found by the policy-loader fuzzer (test/fuzz/policy-loader.fuzz.test.ts).
describe('parsePolicy on broken input', () => {
  const errors = (text: string): string[] => {
    const r = parsePolicy(text, 'p.yaml');
    return r.ok ? [] : r.errors.map(formatDiagnostic);
  };

  it('an alias without an anchor is an error at the alias, not an exception', () => {
    expect(errors('version: 1\nroutes: *missing\n')).toEqual([expect.stringMatching(/^p\.yaml:2:9 \(syntax\): .*alias/i)]);
  });

  it('positions after a syntax error stay on the right line (yaml\'s own line counter drifts there)', () => {
    // A list item where a mapping was: the parser reports many echo errors after the first.
    const text = 'version: 1\n  - name: stray\nlisteners:\n  outbound: { port: 1 }\nroutes: []\n';
    const lines = text.split('\n');
    for (const e of errors(text)) {
      const [, line, col] = /^p\.yaml:(\d+):(\d+) /.exec(e)!;
      expect(Number(line)).toBeLessThanOrEqual(lines.length);
      expect(Number(col)).toBeLessThanOrEqual(lines[Number(line) - 1]!.length + 1);
    }
  });

  it('lists at most five syntax errors, the last saying how many more there were', () => {
    // A route's first line swapped to the top of a file: every token after it is an echo error.
    const text = `  - name: r\nversion: 1\n${Array.from({ length: 20 }, (_, i) => `u${i}: { port: ${i}, address: a }`).join('\n')}\n`;
    const e = errors(text);
    expect(e.length).toBeLessThanOrEqual(5);
    expect(e.at(-1)).toMatch(/\(and \d+ more syntax errors after it\)$/);
  });

  it('a key without a value is pointed at by its key', () => {
    const text = 'version: 1\nroutes:\n  - name: r\n    to: [{ upstream: a }]\n    headers: { request: { set: { prod } } }\nupstreams: { a: { endpoints: [{ address: "a:1" }] } }\n';
    expect(errors(text)).toEqual(['p.yaml:5:34 routes[0].headers.request.set.prod: Invalid input: expected string, received null']);
  });

  describe('with the value already parsed (a fleet generation\'s data)', () => {
    const good = `version: 1
upstreams: { a: { endpoints: [{ address: "a:80" }] } }
routes: [{ name: r, match: { host: a }, to: [{ upstream: a }], timeout: 2s }]
`;
    const valueOf = (text: string): unknown => { const r = parsePolicy(text, 'p.yaml'); if (!r.ok) throw new Error('invalid'); return r.value; };

    it('checks the value instead of the text and gives the same policy', () => {
      const fromText = parsePolicy(good, 'p.yaml', { fleet: true });
      const fromValue = parsePolicy(good, 'p.yaml', { fleet: true }, JSON.parse(JSON.stringify(valueOf(good))));
      expect(fromValue).toEqual(fromText);
      // What is applied is the value, checked: a value that says something else (valid) is what runs.
      const other = parsePolicy(good, 'p.yaml', { fleet: true }, { version: 1, upstreams: { b: { endpoints: [{ address: 'b:80' }] } }, routes: [] });
      expect(other.ok && Object.keys(other.policy.upstreams)).toContain('b');
    });

    it('anything to report goes through the text, so diagnostics keep their file:line:col', () => {
      const bad = good.replace('to: [{ upstream: a }]', 'to: [{ upstream: nope }]');
      const value = { ...(valueOf(good) as object), routes: [{ name: 'r', match: { host: 'a' }, to: [{ upstream: 'nope' }] }] };
      const r = parsePolicy(bad, 'p.yaml', { fleet: true }, value);
      expect(r.ok ? [] : r.errors.map(formatDiagnostic)).toEqual(errorsOf(bad));
      expect(r.ok ? [] : r.errors.map(formatDiagnostic)).toEqual([expect.stringMatching(/^p\.yaml:3:\d+ routes\[0\]\.to\[0\]\.upstream: unknown upstream "nope"/)]);
      // A value with only a warning: the warning is reported as the text gives it, with its place.
      const warned = 'version: 1\nupstreams: { a: { endpoints: [{ address: "a:80" }], subsets: { v2: { version: v2 } } } }\n';
      expect(parsePolicy(warned, 'p.yaml', {}, valueOf(warned)).warnings.map(formatDiagnostic)).toEqual(['p.yaml:2:68 upstreams.a.subsets.v2: warning: subset "v2" selects no endpoint']);
    });
  });
});
