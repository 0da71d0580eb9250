import { defineConfig } from 'vitest/config';

// Integration suites start real sidecars and upstreams on loopback; two workers match the
// two cores of the CI machine without the suites starving each other of CPU.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
