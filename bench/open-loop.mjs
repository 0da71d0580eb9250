// An open-loop load generator (wrk2's method): request i is due at t0 + i/rate whatever happened to
// the earlier ones, goes out on the first free keep-alive connection, and its latency counts from
// its due time — a stall shows in the latency of every request that should have gone out during it,
// instead of those requests silently not being sent (coordinated omission). Lean on purpose (raw
// sockets, one prebuilt request, a minimal response parser) so it takes little of the load core.
//   node bench/open-loop.mjs PORT RATE SECONDS [CONNECTIONS] [HOST] [PATH]
// Prints one JSON line: { rate, sent, done, errors, p50, p90, p99, max } (latencies in ms).
import net from 'node:net';

const [port, rate, seconds, connections = '50', host = 'bench', path = '/bench'] = process.argv.slice(2);
const RATE = Number(rate);
const TOTAL = Math.round(RATE * Number(seconds));
const REQUEST = Buffer.from(`GET ${path} HTTP/1.1\r\nhost: ${host}\r\n\r\n`);
const latencies = new Float64Array(TOTAL);
let sent = 0;
let done = 0;
let errors = 0;
const idle = [];
const t0 = performance.now() + 50; // connections first
const due = (i) => t0 + (i * 1000) / RATE;

class Conn {
  constructor() {
    this.buf = null;
    this.dueAt = 0;
    this.socket = net.connect(Number(port), '127.0.0.1', () => { idle.push(this); pump(); });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      if (this.dueAt) { errors++; finish(this, false); }
      if (done < TOTAL) setTimeout(() => new Conn(), 10); // replace it
    });
  }

  send(dueAt) {
    this.dueAt = dueAt;
    this.socket.write(REQUEST);
  }

  onData(chunk) {
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf !== null) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.toString('latin1', 0, end);
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      let size;
      if (m) size = end + 4 + Number(m[1]);
      else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
        const z = this.buf.indexOf('\r\n0\r\n\r\n', end);
        if (z < 0) return;
        size = z + 7;
      } else size = end + 4;
      if (this.buf.length < size) return;
      const ok = head.startsWith('HTTP/1.1 2');
      this.buf = this.buf.length === size ? null : this.buf.subarray(size);
      if (!ok) errors++;
      finish(this, true);
    }
  }
}

function finish(conn, reusable) {
  if (!conn.dueAt) return;
  latencies[done++] = performance.now() - conn.dueAt;
  conn.dueAt = 0;
  if (reusable) idle.push(conn);
  if (done === TOTAL) report();
  else pump();
}

let timer = null;
function pump() {
  const now = performance.now();
  while (sent < TOTAL && idle.length > 0 && due(sent) <= now) idle.pop().send(due(sent++));
  if (sent < TOTAL && timer === null && idle.length > 0) {
    // The next request is not due yet: wake at its time. (No free connection: `finish` pumps.)
    const wait = Math.max(0, due(sent) - performance.now());
    timer = setTimeout(() => { timer = null; pump(); }, wait < 1 ? 0 : wait);
  }
}

function report() {
  const sorted = latencies.subarray(0, done).sort();
  const q = (p) => Number(sorted[Math.min(done - 1, Math.floor(p * done))].toFixed(2));
  process.stdout.write(`${JSON.stringify({ rate: RATE, sent, done, errors, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: q(1 - 1e-9) })}\n`);
  process.exit(0);
}

for (let i = 0; i < Number(connections); i++) new Conn();
// A target that stops answering still ends the run: whatever is missing counts as errors.
setTimeout(() => { errors += TOTAL - done; done = Math.max(done, 1); report(); }, Number(seconds) * 1000 + 10_000).unref();
