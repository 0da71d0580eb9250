import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, parsePathString, parseSuite } from './suite-load.js';

const VALID = `name: demo
environment:
  local:
    upstreams:
      reviews: { replicas: 2, labels: { version: v1 }, latency: { p50: 2ms, p99: 20ms }, errors: { percent: 1 } }
    policy:
      version: 1
      upstreams:
        reviews: { endpoints: "\${endpoints.reviews}" }
      routes:
        - { name: reviews, match: { host: reviews }, to: [{ upstream: reviews }] }
steadyState:
  title: reviews answers
  probes:
    - { name: ok, http: { host: reviews }, tolerance: [200, 204] }
    - { name: light load, load: { request: { host: reviews }, rate: 20, count: 10 }, tolerance: { successRate: "== 100%" } }
experiments:
  - name: slow replica
    inject:
      - toxic: { endpoint: "reviews[1]", type: latency, latency: 100ms, jitter: 10ms }
      - at: 1s
        for: 500ms
        kill: reviews[0]
    load:
      request: { host: reviews, path: /r, headers: { x-user: "u\${seq}" } }
      rate: 100
      duration: 2s
    expect:
      - successRate: ">= 99%"
        latency: { p99: "< 250ms" }
        share: { by: version, values: { v1: "== 100%" } }
      - window: { from: 1500ms }
        status: { 5xx: "== 0" }
        metrics: ['pilotfish_requests_total{route="reviews",code="503"} == 0 within 1s']
    rollback:
      - restart: reviews
`;

async function errors(text: string, file = 'suite.yaml'): Promise<string[]> {
  const r = await parseSuite(text, file);
  return r.ok ? [] : r.errors.map(formatDiagnostic);
}

describe('parseSuite', () => {
  it('accepts a full suite and fills defaults', async () => {
    const r = await parseSuite(VALID, 'suite.yaml');
    if (!r.ok) throw new Error(r.errors.map(formatDiagnostic).join('\n'));
    const { suite } = r.loaded;
    const x = suite.experiments[0]!;
    expect(x.inject[0]!.toxic).toMatchObject({ type: 'latency', latency: 100, jitter: 10, stream: 'downstream', toxicity: 100, endpoint: { upstream: 'reviews', index: 1 } });
    expect(x.inject[1]).toMatchObject({ at: 1000, for: 500, kill: { upstream: 'reviews', index: 0 } });
    expect(x.load).toMatchObject({ rate: 100, duration: 2000, timeout: 10_000, requests: [{ method: 'GET', path: '/r', host: 'reviews', weight: 1 }] });
    expect(x.expect).toHaveLength(2);
    expect(x.expect[1]!.metrics![0]).toMatchObject({ name: 'pilotfish_requests_total', withinMs: 1000 });
    expect(x.rollback[0]!.restart).toEqual({ upstream: 'reviews', text: 'reviews' });
    expect(suite.environment.local!.upstreams.reviews).toMatchObject({ replicas: 2, bodySize: 64, errors: { percent: 1, status: 503 } });
  });

  it('rejects unknown keys at any depth, pointing at the key', async () => {
    expect(await errors(VALID.replace('rate: 100', 'rate: 100\n      rte: 5'))).toEqual(['suite.yaml:27:7 experiments[0].load.rte: unknown key "rte"']);
  });

  it('points into a single expect block or a list of them', async () => {
    const single = VALID.replace(/    expect:\n[^]*(?=    rollback:)/, '    expect:\n      successRate: "99%"\n');
    expect(await errors(single)).toEqual(['suite.yaml:29:20 experiments[0].expect.successRate: expected a comparison such as ">= 99.9%", got "99%"']);
    expect(await errors(VALID.replace('p99: "< 250ms"', 'p99: "< 25%"'))).toEqual([
      'suite.yaml:30:25 experiments[0].expect[0].latency.p99: expected a comparison such as "< 250ms": a percentage does not fit here',
    ]);
  });

  it('reports bad durations, metric expressions and toxic attributes with positions', async () => {
    const errs = await errors(VALID
      .replace('for: 500ms', 'for: soon')
      .replace('== 0 within 1s', 'is zero')
      .replace('jitter: 10ms', 'rate: 10'));
    expect(errs).toEqual([
      'suite.yaml:20:73 experiments[0].inject[0].toxic.rate: unknown key "rate"',
      'suite.yaml:22:14 experiments[0].inject[1].for: invalid duration "soon" (use e.g. 250ms, 1s, 2m, or milliseconds)',
      expect.stringMatching(/^suite\.yaml:34:19 experiments\[0\]\.expect\[1\]\.metrics\[0\]: expected "<metric> <op> <number> \[within <duration>\]"/),
    ]);
  });

  it('requires exactly one action per inject item and one of rate | concurrency', async () => {
    const errs = await errors(VALID.replace('        kill: reviews[0]', '        kill: reviews[0]\n        restart: reviews[0]').replace('rate: 100', 'rate: 100\n      concurrency: 4'));
    expect(errs).toEqual([
      'suite.yaml:21:9 experiments[0].inject[1]: expected only one of fault | toxic | kill | restart | degrade | policy | signal | wait | publish | rollback, got kill and restart',
      'suite.yaml:26:7 experiments[0].load: expected only one of rate | concurrency, got rate and concurrency',
    ]);
  });

  it('checks endpoint references against the fake upstreams', async () => {
    expect(await errors(VALID.replace('kill: reviews[0]', 'kill: reviews[5]').replace('restart: reviews', 'restart: ratings'))).toEqual([
      'suite.yaml:23:15 experiments[0].inject[1].kill: "reviews" has 2 replica(s), indexes 0–1',
      'suite.yaml:36:18 experiments[0].rollback[0].restart: no fake upstream "ratings" in environment.local.upstreams',
    ]);
  });

  it('checks share.by and the inline policy, positions inside the suite', async () => {
    const errs = await errors(VALID
      .replace('by: version', 'by: colour')
      .replace('to: [{ upstream: reviews }]', 'to: [{ upstream: ratings }]'));
    expect(errs).toEqual(['suite.yaml:31:22 experiments[0].expect[0].share.by: share.by must be "instance", "upstream" or a label of a fake upstream, got "colour"']);
    expect(await errors(VALID.replace('to: [{ upstream: reviews }]', 'to: [{ upstream: ratings }]')))
      .toEqual(['suite.yaml:11:71 environment.local.policy.routes[0].to[0].upstream: unknown upstream "ratings"']);
    expect(await errors(VALID.replace('${endpoints.reviews}', '${endpoints.ratings}')))
      .toEqual(['suite.yaml:9:31 environment.local.policy.upstreams.reviews.endpoints: ${endpoints.ratings}: no fake upstream "ratings" in environment.local.upstreams']);
  });

  it('checks a policy file with the file\'s own positions', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pilotfish-suite-'));
    await writeFile(path.join(dir, 'p.yaml'), 'version: 1\nupstreams:\n  reviews: { endpoints: ${endpoints.reviews} }\nroutes: [{ name: r, to: [{ upstream: nope }] }]\n');
    const text = VALID.replace(/    policy:\n(      .*\n|        .*\n)+/, '    policyFile: p.yaml\n');
    const r = await parseSuite(text, path.join(dir, 'suite.yaml'));
    expect(r.ok ? [] : r.errors.map(formatDiagnostic)).toEqual([`${path.join(dir, 'p.yaml')}:4:38 routes[0].to[0].upstream: unknown upstream "nope"`]);
    const missing = await parseSuite(text.replace('p.yaml', 'gone.yaml'), path.join(dir, 'suite.yaml'));
    expect(missing.ok ? [] : missing.errors.map(formatDiagnostic)[0]).toMatch(/suite\.yaml:6:17 environment\.local\.policyFile: cannot read policy .*gone\.yaml: ENOENT/);
  });

  it('refuses actions a target environment cannot perform', async () => {
    const target = `name: t
environment:
  target: { proxy: "http://127.0.0.1:15001" }
experiments:
  - name: x
    inject:
      - kill: reviews[0]
      - fault: { upstream: reviews, abort: { status: 503 } }
    expect: { metrics: ["pilotfish_config_generation > 0"] }
`;
    expect(await errors(target)).toEqual([
      'suite.yaml:7:15 experiments[0].inject[0].kill: "kill" needs environment.local (the runner owns no process or socket of a target)',
      'suite.yaml:8:16 experiments[0].inject[1].fault: runtime faults need environment.target.admin',
      'suite.yaml:9:24 experiments[0].expect.metrics: metric hypotheses need environment.target.metrics',
    ]);
  });

  it('publish and rollback need a fleet environment; a fleet environment refuses file swaps, signals and sidecarExit', async () => {
    const noFleet = VALID.replace('    rollback:\n      - restart: reviews\n', '    rollback:\n      - publish: { inline: { version: 1 } }\n      - rollback: {}\n');
    expect(await errors(noFleet)).toEqual([
      'suite.yaml:36:18 experiments[0].rollback[0].publish: "publish" needs environment.local.fleet (a fleet of sidecars with its own redis-server)',
      'suite.yaml:37:19 experiments[0].rollback[1].rollback: "rollback" needs environment.local.fleet (a fleet of sidecars with its own redis-server)',
    ]);
    const fleet = VALID.replace('  local:\n', '  local:\n    fleet: { sidecars: 2 }\n')
      .replace('    rollback:\n      - restart: reviews\n', '    rollback:\n      - policy: { inline: { version: 1 } }\n      - signal: SIGHUP\n      - publish: { inline: { version: 1 }, message: m }\n      - rollback: { to: 1 }\n')
      .replace('        metrics:', '        sidecarExit: { code: 0 }\n        metrics:');
    expect(await errors(fleet)).toEqual([
      'suite.yaml:38:17 experiments[0].rollback[0].policy: the fleet\'s policy wins over the file: use "publish" in a fleet environment',
      'suite.yaml:39:17 experiments[0].rollback[1].signal: signals go to one sidecar process: not in a fleet environment',
      'suite.yaml:35:22 experiments[0].expect[1].sidecarExit: sidecarExit watches one sidecar process: not in a fleet environment',
    ]);
    expect(await errors(VALID.replace('  local:\n', '  local:\n    fleet: { sidecars: 17 }\n'))).toEqual([expect.stringMatching(/environment\.local\.fleet\.sidecars: .*16/)]);
    const ok = await parseSuite(VALID.replace('  local:\n', '  local:\n    fleet: {}\n').replace('      - window: { from: 1500ms }', '      - each: sidecar\n        window: { from: 1500ms }'), 'suite.yaml');
    expect(ok.ok && ok.loaded.suite.environment.local?.fleet).toEqual({ sidecars: 3, key: 'chaos' });
  });

  it('validates probe tolerances by probe kind', async () => {
    // An http probe's tolerance is a status: the object form it resembles is { range }.
    expect(await errors(VALID.replace('tolerance: [200, 204]', 'tolerance: { successRate: "== 100%" }'))).toEqual([
      'suite.yaml:15:55 steadyState.probes[0].tolerance.range: missing required key (expected tuple)',
      'suite.yaml:15:57 steadyState.probes[0].tolerance.successRate: unknown key "successRate"',
    ]);
    expect(await errors(VALID.replace('tolerance: { successRate: "== 100%" }', 'tolerance: { successRat: "== 100%" }'))).toEqual([
      'suite.yaml:16:99 steadyState.probes[1].tolerance.successRat: unknown key "successRat"',
    ]);
  });

  it('reports syntax errors, empty files and missing keys', async () => {
    expect(await errors('name: [\n')).toEqual([expect.stringMatching(/^suite\.yaml:\d+:\d+ \(syntax\): /)]);
    expect(await errors('')).toEqual(['suite.yaml:1:1 (root): suite is empty']);
    expect(await errors('name: x\nexperiments: []\n')).toEqual([
      'suite.yaml:1:1 environment: missing required key (expected object)',
      'suite.yaml:2:14 experiments: Too small: expected array to have >=1 items',
    ]);
  });
});

describe('parsePathString', () => {
  it('inverts formatPath', () => {
    expect(parsePathString('routes[0].to[12].upstream')).toEqual(['routes', 0, 'to', 12, 'upstream']);
    expect(parsePathString('(root)')).toEqual([]);
  });
});
