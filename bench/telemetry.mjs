// Telemetry overhead: the same sidecar with metrics only (access log off), metrics + access log (the
// default), and tracing on at 100%, at 1% and at 0% sampling (on, nothing sampled) (OTLP/HTTP to a local collector that discards),
// in one interleaved run, with ratios to metrics-only.
//   npm run bench:telemetry     (BENCH_SECONDS=4 BENCH_ROUNDS=5 by default)
// `BENCH_ONLY` (comma-separated words of row names: 1%, 0%, 100%, access, A/A) runs a subset
// against metrics only, which is always kept: `BENCH_ONLY=1% BENCH_ROUNDS=21 npm run bench:telemetry`
// is the focused A/B of issue 14's target — the two sidecars measured back to back in every round (in reverse order every other
// round; in the full run another row sits between them), and twice the rounds in the same time, so
// the median of per-round ratios has more pairs to reject the VM's bursts with. Instruction counts
// of the same two configurations, repeatable under load: bench/instructions.sh with TRACING=0.01.
import { measure, pinnedBench, sidecar, start, stopAll, table, target, LOAD_CORE, ROUNDS, SECONDS } from './lib.mjs';

pinnedBench();
const BASELINE = 'metrics only';
const ONLY = (process.env.BENCH_ONLY ?? '').split(',').filter(Boolean);
/** A row's words, without its punctuation: `0%` picks 'tracing 0% (on, none sampled)', not 'tracing 100%'. */
const words = (name) => name.split(/[\s(),]+/).filter(Boolean);
const wanted = (name) => name === BASELINE || (ONLY.length === 0 ? !name.includes('A/A') : ONLY.some((o) => words(name).includes(o)));

try {
  const upstream = await start(['bench/servers.mjs', 'upstream'], { core: LOAD_CORE });
  const collector = await start(['bench/servers.mjs', 'collector'], { core: LOAD_CORE });
  const otel = (ratio) => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: String(ratio),
  });
  const rows = {
    [BASELINE]: () => sidecar(upstream.port, { args: ['--no-access-log'] }),
    'metrics + access log': () => sidecar(upstream.port),
    // On with nothing sampled: the price of every request's trace id and `traceparent` alone.
    'tracing 0% (on, none sampled)': () => sidecar(upstream.port, { args: ['--no-access-log'], env: otel(0) }),
    'tracing 1%': () => sidecar(upstream.port, { args: ['--no-access-log'], env: otel(0.01) }),
    'tracing 100%': () => sidecar(upstream.port, { args: ['--no-access-log'], env: otel(1) }),
    // A second sidecar configured exactly as the baseline (BENCH_ONLY=A/A): what the method reads
    // when there is no difference — the resolution any of the ratios above can claim.
    'metrics only, again (A/A)': () => sidecar(upstream.port, { args: ['--no-access-log'] }),
  };
  const targets = {};
  for (const [name, run] of Object.entries(rows)) if (wanted(name)) targets[name] = target(await run());
  const results = await measure(targets);
  console.log(`Pilotfish telemetry overhead — ${SECONDS}s x ${ROUNDS} rounds (medians), Node ${process.version}\n`);
  console.log(table(results, { [BASELINE]: BASELINE }));
} finally {
  await stopAll();
}
