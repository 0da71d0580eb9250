// A process's V8 heap in use after a forced full collection, read over the inspector protocol: the
// process is started with `--inspect-port=127.0.0.1:PORT` (which opens nothing), and the first
// reading sends it SIGUSR1 (Node's signal to open the inspector on that port). The inspector is left
// open and unattached between readings: closing it and opening it again crashed Node 24 here.
// What is left after `HeapProfiler.collectGarbage` is what the process holds; readings of the
// heap at an arbitrary moment also count garbage the old generation has not collected yet.
import http from 'node:http';
import net from 'node:net';

/** A free loopback port (closed again: the caller binds it, or hands it to a child). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().on('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The node flag that lets `heapAfterGc` reach the process on `port`. */
export const inspectPortFlag = (port) => `--inspect-port=127.0.0.1:${port}`;

/** MiB of V8 heap in use in `pid` after a full collection; `port` is the one given with `inspectPortFlag`. */
export async function heapAfterGc(pid, port) {
  process.kill(pid, 'SIGUSR1');
  const targets = await poll(() => getJson(`http://127.0.0.1:${port}/json/list`), 5000);
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error(`inspector of ${pid}: connection failed`)); });
  const waiting = new Map();
  let id = 0;
  ws.onmessage = (e) => { const m = JSON.parse(e.data); waiting.get(m.id)?.(m); waiting.delete(m.id); };
  const call = (method, params = {}) => new Promise((resolve) => { waiting.set(++id, resolve); ws.send(JSON.stringify({ id, method, params })); });
  try {
    await call('HeapProfiler.collectGarbage');
    const r = await call('Runtime.evaluate', { expression: 'process.memoryUsage().heapUsed', returnByValue: true });
    return r.result.result.value / 1048576;
  } finally {
    ws.close();
  }
}

function getJson(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => { try { resolve(JSON.parse(text)); } catch (err) { reject(err); } });
    }).on('error', reject);
  });
}

async function poll(fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try { return await fn(); } catch (err) { if (Date.now() > deadline) throw err; }
    await new Promise((r) => setTimeout(r, 50));
  }
}
