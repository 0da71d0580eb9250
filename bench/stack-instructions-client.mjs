// The client of bench/stack-instructions.sh: N requests, one after another, through the bench's full
// policy's route stack (rescue → destination → fault → timeout → retry → try: endpoint pick, pool,
// breaker, engine) of a snapshot built from `ROOT/dist` (tsc's output), in this process. The engine
// is a stand-in at the seam that answers 200 with a 100-byte Buffer on the next turn of the event
// loop (`setImmediate`), as an upstream's answer arrives in a later read: no sockets, no node:http,
// no undici — what is counted is the stack's own work per request, which a sidecar's count
// (bench/instructions.sh) carries inside ~300 k instructions of I/O and can hardly resolve.
//   [STACK_POLICY=no-breaker] node bench/stack-instructions-client.mjs ROOT N
import path from 'node:path';

const [root, n] = [path.resolve(process.argv[2] ?? '.'), Number(process.argv[3] ?? 1000)];
const dist = (p) => import(path.join(root, 'dist', p));
const { parsePolicy } = await dist('config/index.js');
const { NO_EVENTS } = await dist('core/events.js');
const { createLogger } = await dist('log.js');
const { BucketTicker, RuntimeFaults } = await dist('resilience/index.js');
const { UpstreamRegistry } = await dist('upstreams/index.js');
const { buildSnapshot } = await dist('pipeline/build.js');
const { newContext } = await dist('pipeline/serve.js');
const { POLICIES } = await import('./lib.mjs');

// The bench's full policy (bench/lib.mjs), its endpoint never dialled: the engine below answers.
// STACK_POLICY=no-breaker leaves its circuit breaker out (what the breaker costs a request).
// Its route and per-try timeouts stretched to 60 s / 20 s, as bench/instructions.sh's runs have them:
// under valgrind the first requests (V8 still compiling) take seconds, and a 504 stops the count.
const full = POLICIES.full(9).replace('timeout: 5s', 'timeout: 60s').replace('perTryTimeout: 2s', 'perTryTimeout: 20s');
const text = `version: 1\n${process.env.STACK_POLICY === 'no-breaker' ? full.replace(/\n *circuitBreaker:[^\n]*/, '') : full}`;
const BODY = Buffer.alloc(100, 120);
const NO_CONNECTIONS = { describe: () => ({ active: 0, idle: 0 }), dispose: () => {} };
const engine = {
  connections: () => NO_CONNECTIONS,
  forward: () => new Promise((resolve) => setImmediate(() => resolve({ status: 200, headers: { 'content-type': 'application/json', 'content-length': '100' }, body: BODY }))),
  upgrade: (_req, _socket, _head, _target, onError) => onError(new Error('no upgrades here')),
  close: () => {},
};
const ticker = new BucketTicker();
const faults = new RuntimeFaults();
const registry = new UpstreamRegistry({ ticker, engine, events: NO_EVENTS });
const loaded = parsePolicy(text, 'bench.yaml', {});
if (!loaded.ok) throw new Error('the policy does not load');
const plan = registry.plan(loaded.policy);
const snapshot = buildSnapshot(loaded.policy, text, 1, { states: plan.states, engine, log: createLogger('silent'), events: NO_EVENTS, faults });
plan.commit();

const peer = { remoteAddress: '127.0.0.1', remotePort: 40000 };
const request = () => ({
  method: 'GET', host: 'bench', path: '/bench', headers: { 'user-agent': 'bench', accept: '*/*' }, source: undefined, peer,
  body: undefined, bodyStream: undefined, signal: undefined, downstreamGone: false,
  onDownstreamClose() {}, offDownstreamClose() {},
});
for (let i = 0; i < n; i++) {
  const req = request();
  const input = { host: 'bench', path: '/bench', query: '', method: 'GET', headers: req.headers };
  const ctx = newContext('outbound', snapshot);
  const route = snapshot.route('outbound', input);
  ctx.route = route.name;
  const resp = await route.handler(req, ctx);
  if (resp.status !== 200) throw new Error(`answer ${resp.status} (${ctx.flags.join(',')})`);
}
registry.dispose();
faults.dispose();
ticker.dispose();
