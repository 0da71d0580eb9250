/**
 * The chaos runner (SPEC §8): `pilotfish chaos SUITE…`. The CLI needs only `chaosCommand`; the rest
 * is exported for tests and for tools that drive suites programmatically.
 */
export { chaosCommand, type ChaosCommandOptions } from './chaos-command.js';
export { CHAOS_USAGE } from './usage.js';
export { loadSuiteFile, parseSuite, type LoadedSuite, type SuiteLoadResult } from './suite-load.js';
export { runSuite, type RunSuiteOptions } from './suite-runner.js';
export type { Suite, Experiment } from './suite-schema.js';
export type { SuiteJournal, PhaseRecord } from './journal.js';
export { ToxicProxy, type ToxicProxyOptions } from './toxic-proxy.js';
export type { ToxicDefinition, ToxicSpec } from './toxics.js';
export { FakeEndpoint, INSTANCE_HEADER } from './fake-endpoint.js';
export { runLoad, type LoadOptions } from './load-generator.js';
