// The client of bench/instructions.sh: N GET requests with Host `bench` over C keep-alive connections.
import http from 'node:http';
const [port, n, c] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: c });
let left = n, done = 0;
await new Promise((resolve) => {
  const one = () => {
    if (left <= 0) return;
    left--;
    http.get({ host: '127.0.0.1', port, path: '/bench', headers: { host: 'bench' }, agent }, (res) => {
      res.resume(); res.on('end', () => { if (res.statusCode !== 200) console.error('status', res.statusCode); if (++done === n) resolve(); else one(); });
    }).on('error', (e) => { console.error(e.message); if (++done === n) resolve(); else one(); });
  };
  for (let i = 0; i < c; i++) one();
});
agent.destroy();
