import { defineConfig } from 'vitest/config';
import { DEFAULT_ENGINE, ENGINES } from './src/proxy/engine.js';

// Integration suites start real sidecars and upstreams on loopback; two workers match the
// two cores of the CI machine without the suites starving each other of CPU.
// The first project runs everything on the default engine; the data-plane suites (and the engine
// contract suite) run once more on every other engine, so each engine carries every one of them.
const DATA_PLANE = ['test/proxy.test.ts', 'test/connections.test.ts', 'test/resilience.test.ts', 'test/engine-contract.test.ts', 'test/killed-replica.test.ts',
  'test/framing.test.ts', 'test/fuzz/http-edge.fuzz.test.ts', 'test/mtls.test.ts', 'test/http2.test.ts'];

export default defineConfig({
  test: {
    pool: 'forks',
    // The skip reporter names every test skipped for a missing system program and fails the run on
    // any other skip (test/helpers/system.ts).
    reporters: ['default', './test/helpers/skip-reporter.ts'],
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 20_000,
    projects: [
      { test: { name: 'pilotfish', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], env: { PILOTFISH_ENGINE: DEFAULT_ENGINE } } },
      ...ENGINES.filter((e) => e !== DEFAULT_ENGINE).map((engine) => ({
        test: { name: `engine: ${engine}`, include: DATA_PLANE, env: { PILOTFISH_ENGINE: engine } },
      })),
    ],
  },
});
