// The client of bench/library-instructions.sh: <n> calls of one variant of bench:library, 8 at a time:
//   node bench/library-instructions-client.mjs <bare|mesh-request> <upstreamPort> <n> [concurrency]
// bare: undici.request through an undici Agent; mesh-request: undici.request through mesh.dispatcher
// (createMesh with the one-route policy). Exits non-zero when a call does not answer 200.
import { Agent, request } from 'undici';
import { createMesh } from '../dist/index.js';

const [variant, port, n, c = '8'] = process.argv.slice(2);
const agent = new Agent({ keepAliveTimeout: 10_000 });
const mesh = variant === 'mesh-request'
  ? await createMesh({
    policy: { version: 1, upstreams: { bench: { endpoints: [{ address: `127.0.0.1:${port}` }] } }, routes: [{ name: 'bench', match: { host: 'bench', path: { prefix: '/' } }, to: [{ upstream: 'bench' }] }] },
    watch: false,
  })
  : undefined;
const url = mesh ? 'http://bench/bench' : `http://127.0.0.1:${port}/bench`;
const dispatcher = mesh ? mesh.dispatcher : agent;
let left = Number(n);
let bad = 0;
await Promise.all(Array.from({ length: Number(c) }, async () => {
  while (left-- > 0) {
    const r = await request(url, { dispatcher });
    for await (const _ of r.body);
    if (r.statusCode !== 200) bad++;
  }
}));
await mesh?.close();
await agent.close();
if (bad > 0) { console.error(`${bad} calls did not answer 200`); process.exit(1); }
