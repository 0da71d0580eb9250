import { defineConfig } from 'vitest/config';

// Integration suites start real sidecars and upstreams on loopback; two workers match the
// two cores of the CI machine without the suites starving each other of CPU.
// The data-plane suites run a second time on the second forwarding engine (`--engine node`).
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
      { test: { name: 'pilotfish', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] } },
      {
        test: {
          name: 'engine: node',
          include: ['test/proxy.test.ts', 'test/connections.test.ts', 'test/resilience.test.ts'],
          env: { PILOTFISH_ENGINE: 'node' },
        },
      },
    ],
  },
});
