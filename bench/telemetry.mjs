// Telemetry overhead: the same sidecar with metrics only (access log off), metrics + access log (the
// default), and tracing on at 100% and at 1% sampling (OTLP/HTTP to a local collector that discards),
// in one interleaved run, with ratios to metrics-only.
//   npm run bench:telemetry     (BENCH_SECONDS=4 BENCH_ROUNDS=7 by default)
import { measure, pinnedBench, sidecar, start, stopAll, table, target, LOAD_CORE, ROUNDS, SECONDS } from './lib.mjs';

pinnedBench();

try {
  const upstream = await start(['bench/servers.mjs', 'upstream'], { core: LOAD_CORE });
  const collector = await start(['bench/servers.mjs', 'collector'], { core: LOAD_CORE });
  const otel = (ratio) => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: String(ratio),
  });
  const targets = {
    'metrics only': target(await sidecar(upstream.port, { args: ['--no-access-log'] })),
    'metrics + access log': target(await sidecar(upstream.port)),
    'tracing 1%': target(await sidecar(upstream.port, { args: ['--no-access-log'], env: otel(0.01) })),
    'tracing 100%': target(await sidecar(upstream.port, { args: ['--no-access-log'], env: otel(1) })),
  };
  const rows = await measure(targets);
  console.log(`Pilotfish telemetry overhead — ${SECONDS}s x ${ROUNDS} rounds (medians), Node ${process.version}\n`);
  console.log(table(rows, { 'metrics only': 'metrics only' }));
} finally {
  await stopAll();
}
