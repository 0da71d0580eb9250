/**
 * How long a fake endpoint takes to answer: fixed, uniform between two bounds, or a right-skewed
 * distribution given by its median and 99th percentile — what real services look like. The skewed
 * one is log-normal: median p50, and σ chosen so the 99th percentile lands on p99.
 */
import type { LatencySpec } from './action-schema.js';

/** z-score of the 99th percentile of the standard normal distribution. */
const Z99 = 2.3263;

export type LatencySampler = () => number;

export function latencySampler(spec: LatencySpec | undefined, random: () => number = Math.random): LatencySampler {
  if (spec === undefined) return () => 0;
  if ('fixed' in spec) return () => spec.fixed;
  if ('min' in spec) return () => spec.min + random() * Math.max(0, spec.max - spec.min);
  const { p50, p99 } = spec;
  if (p50 <= 0 || p99 <= p50) return () => p50;
  const sigma = Math.log(p99 / p50) / Z99;
  return () => p50 * Math.exp(sigma * standardNormal(random));
}

/** Box–Muller. */
function standardNormal(random: () => number): number {
  const u = 1 - random(); // (0, 1]: log(0) would be -Infinity
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
