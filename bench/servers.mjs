// Processes the benchmark measures, one per role, so each has its own CPU and RSS:
//   node bench/servers.mjs upstream                   a fixed 100-byte JSON answer
//   node bench/servers.mjs bare <upstreamPort>        a bare http-proxy-3 proxy with a keep-alive agent
//   node bench/servers.mjs bare-undici <upstreamPort> a bare undici proxy: node:http server + Pool.dispatch
//   node bench/servers.mjs collector                  an OTLP/HTTP sink that discards what it receives
//   node bench/servers.mjs text <TEXT>                answers TEXT (bench:fleet's blue and green); with
//                                                     BENCH_ARRIVALS=1 it prints `arrival <wall ms>` per request
// Each prints its port on stdout once listening.
import http from 'node:http';

const [role, upstreamPort] = process.argv.slice(2);
const body = Buffer.from(JSON.stringify({ ok: true, pad: 'x'.repeat(80) }));

let server;
if (role === 'upstream') {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    });
  });
} else if (role === 'bare') {
  const { createProxyServer } = await import('http-proxy-3');
  const agent = new http.Agent({ keepAlive: true, timeout: 4000 });
  const proxy = createProxyServer({ target: `http://127.0.0.1:${upstreamPort}`, agent });
  proxy.on('error', (_err, _req, res) => { if (res && 'writeHead' in res && !res.headersSent) { res.writeHead(502); res.end(); } });
  server = http.createServer((req, res) => proxy.web(req, res));
} else if (role === 'bare-undici') {
  server = await bareUndici(Number(upstreamPort));
} else if (role === 'collector') {
  // An OTLP/HTTP sink: reads each export and answers an empty success.
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => { res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/json' }); res.end(); });
  });
} else if (role === 'text') {
  const text = process.argv[3];
  const arrivals = process.env.BENCH_ARRIVALS === '1';
  server = http.createServer((req, res) => {
    if (arrivals) console.log(`arrival ${performance.timeOrigin + performance.now()}`);
    req.resume();
    res.end(text);
  });
} else {
  console.error(`unknown role ${role}`);
  process.exit(2);
}
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => process.exit(0));

/**
 * The yardstick: the least a correct undici proxy does, as its documentation suggests — undici's
 * fastest API (`dispatch` with the handler hooks), the hop-by-hop headers undici refuses dropped,
 * back-pressure both ways (pause on a full `res.write`, resume on 'drain'), the upstream request
 * aborted when the client leaves, 502 on an upstream error.
 */
async function bareUndici(port) {
  const { Pool } = await import('undici');
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 512, keepAliveTimeout: 4000 });
  const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'te', 'proxy-connection']);
  const clean = (h) => { for (const k in h) if (HOP.has(k)) { const out = {}; for (const n in h) if (!HOP.has(n)) out[n] = h[n]; return out; } return h; };
  return http.createServer((req, res) => {
    const bodiless = req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
    pool.dispatch({ path: req.url, method: req.method, headers: clean(req.headers), body: bodiless ? null : req }, {
      onRequestStart(controller) { res.on('close', () => { if (!res.writableFinished) controller.abort(new Error('client left')); }); },
      onResponseStart(controller, status, headers) {
        res.writeHead(status, clean(headers));
        res.on('drain', () => controller.resume());
      },
      onResponseData(controller, chunk) { if (!res.write(chunk)) controller.pause(); },
      onResponseEnd() { res.end(); },
      onResponseError(_controller, err) {
        if (!res.headersSent) { res.writeHead(502); res.end(String(err.code ?? err.message)); } else res.destroy(err);
      },
    });
  });
}
