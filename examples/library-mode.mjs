// Library mode in one file: `node examples/library-mode.mjs` (after `npm run build`).
// Two local "versions" of a service stand in for the real upstreams; the policy sends 80% of the
// calls to v1 and 20% to v2, retries v1's flaky 503s, and the application calls `http://reviews/…`
// with no sidecar in between: through mesh.fetch, and through plain fetch() once the mesh is the
// global dispatcher.
import http from 'node:http';
import { setGlobalDispatcher } from 'undici';
import { createMesh } from 'pilotfish';

let calls = 0;
const v1 = await serve((req, res) => {
  // Every tenth call fails: the route's retries turn it into a 200.
  if (++calls % 10 === 0) { res.writeHead(503); res.end(); return; }
  res.end(JSON.stringify({ version: 'v1', path: req.url }));
});
const v2 = await serve((req, res) => res.end(JSON.stringify({ version: 'v2', path: req.url })));

const mesh = await createMesh({
  policy: {
    version: 1,
    upstreams: {
      reviews: {
        endpoints: [{ address: `127.0.0.1:${v1.port}`, labels: { version: 'v1' } }, { address: `127.0.0.1:${v2.port}`, labels: { version: 'v2' } }],
        subsets: { v1: { version: 'v1' }, v2: { version: 'v2' } },
      },
    },
    routes: [{
      name: 'reviews',
      match: { host: 'reviews' },
      to: [{ upstream: 'reviews', subset: 'v1', weight: 80 }, { upstream: 'reviews', subset: 'v2', weight: 20 }],
      retries: { attempts: 2, retryOn: ['5xx'], backoff: { base: '1ms', max: '5ms' } },
    }],
  },
});

const seen = { v1: 0, v2: 0 };
for (let i = 0; i < 100; i++) {
  const res = await mesh.fetch('http://reviews/books/1');
  if (res.status !== 200) throw new Error(`unexpected ${res.status}`);
  seen[(await res.json()).version]++;
}
console.log(`mesh.fetch: 100 calls, all 200 — v1 ${seen.v1}, v2 ${seen.v2}`);

// Every fetch() of the process now follows the policy.
setGlobalDispatcher(mesh.dispatcher);
const res = await fetch('http://reviews/books/2');
console.log(`fetch() through the global dispatcher: ${res.status} ${JSON.stringify(await res.json())}`);

// Unknown hosts follow outboundTrafficPolicy (registry-only by default): the mesh answers itself.
const nr = await fetch('http://unknown/');
console.log(`unknown host: ${nr.status} ${nr.headers.get('x-pilotfish-flags')}`);

const metrics = await mesh.metrics();
console.log(metrics.split('\n').find((l) => l.startsWith('pilotfish_requests_total{')));

console.log(`explain: winner ${mesh.explain('http://reviews/books/1').winner}`);

await mesh.close();
v1.server.close();
v2.server.close();

function serve(handler) {
  const server = http.createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port })));
}
