// Reload latency: time from writing the policy file to the first request served on the new policy,
// over 100 flips between two upstreams, through a real `pilotfish run` process.
//   npm run bench:reload      (BENCH_FLIPS=100 by default)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { LISTENERS } from './lib.mjs';

const ROOT = path.resolve(import.meta.dirname, '..');
const FLIPS = Number(process.env.BENCH_FLIPS ?? 100);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function server(text) {
  const s = http.createServer((_req, res) => res.end(text));
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(s)));
}
function get(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, headers: { host: 'web' }, agent }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

const blue = await server('blue');
const green = await server('green');
const file = path.join(mkdtempSync(path.join(tmpdir(), 'pilotfish-bench-reload-')), 'policy.yaml');
const policy = (color, n) => `version: 1
${LISTENERS}upstreams:
  blue: { endpoints: [{ address: "127.0.0.1:${blue.address().port}" }] }
  green: { endpoints: [{ address: "127.0.0.1:${green.address().port}" }] }
routes:
  - { name: web, match: { host: web }, to: [{ upstream: ${color} }] }
# flip ${n}
`;
writeFileSync(file, policy('blue', 0));
const child = spawn(process.execPath, ['dist/cli/main.js', 'run', '--policy', file], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
const port = await new Promise((resolve) => createInterface({ input: child.stderr }).on('line', (l) => {
  try { const e = JSON.parse(l); if (e.msg === 'listening') resolve(e.ports.outbound); } catch {}
}));
const times = [];
try {
  for (let i = 1; i <= FLIPS; i++) {
    const want = i % 2 ? 'green' : 'blue';
    const t0 = performance.now();
    writeFileSync(file, policy(want, i));
    while ((await get(port)) !== want) await new Promise((r) => setTimeout(r, 1));
    times.push(performance.now() - t0);
  }
} finally {
  child.kill('SIGTERM');
  await once(child, 'exit');
  agent.destroy();
  blue.close();
  green.close();
}
times.sort((a, b) => a - b);
const q = (p) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))].toFixed(1);
console.log(`reload latency over ${FLIPS} flips (file write -> first request on the new policy): median ${q(50)} ms, p99 ${q(99)} ms, max ${times.at(-1).toFixed(1)} ms`);
