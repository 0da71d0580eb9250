/**
 * `GET /metrics` for the telemetry listener (15020), as an `ExtraRoute` of health-server.ts. The body
 * is built asynchronously (`registry.metrics()` awaits collect hooks), so a scrape never blocks the
 * event loop longer than formatting takes.
 */
import type { Registry } from 'prom-client';
import type { ExtraRoute } from './health-server.js';

/** Serves `registry` at `path` (default `/metrics`); other paths fall through to the next route. */
export function metricsRoute(registry: Registry, path = '/metrics'): ExtraRoute {
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    if ((q < 0 ? url : url.slice(0, q)) !== path) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8', 'content-length': 19 });
      res.end('method not allowed\n');
      return true;
    }
    registry.metrics().then(
      (body) => {
        res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        // A failing collect hook must not leave the scraper hanging until its timeout.
        const text = `metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`;
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
    );
    return true;
  };
}
