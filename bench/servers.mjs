// Processes the benchmark measures, one per role, so each has its own CPU and RSS:
//   node bench/servers.mjs upstream            a fixed 64-byte JSON answer
//   node bench/servers.mjs bare <upstreamPort> a bare http-proxy-3 proxy with a keep-alive agent
//   node bench/servers.mjs collector           an OTLP/HTTP sink that discards what it receives
// Each prints its port on stdout once listening.
import http from 'node:http';
import { createProxyServer } from 'http-proxy-3';

const [role, upstreamPort] = process.argv.slice(2);
const body = Buffer.from(JSON.stringify({ ok: true, pad: 'x'.repeat(44) }));

let server;
if (role === 'upstream') {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 65_000;
} else if (role === 'bare') {
  const agent = new http.Agent({ keepAlive: true, timeout: 4000 });
  const proxy = createProxyServer({ target: `http://127.0.0.1:${upstreamPort}`, agent });
  proxy.on('error', (_err, _req, res) => { if (res && 'writeHead' in res && !res.headersSent) { res.writeHead(502); res.end(); } });
  server = http.createServer((req, res) => proxy.web(req, res));
  server.keepAliveTimeout = 65_000;
} else if (role === 'collector') {
  // An OTLP/HTTP sink: reads each export and answers an empty success.
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => { res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/json' }); res.end(); });
  });
} else {
  console.error(`unknown role ${role}`);
  process.exit(2);
}
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => process.exit(0));
