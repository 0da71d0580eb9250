/**
 * The active health check's probe: `GET <path>` on the endpoint over a fresh connection (a pooled
 * one would say nothing about whether a new connection can be made), healthy on any 2xx.
 */
import http from '../core/node-http.js';
import type { Probe } from '../resilience/index.js';

export function httpProbe(path: string): Probe {
  return (endpoint, timeoutMs, signal) => new Promise<boolean>((resolve) => {
    const [host, port] = splitHostPort(endpoint);
    const req = http.request({ host, port, path, method: 'GET', agent: false, timeout: timeoutMs, signal, headers: { 'user-agent': 'pilotfish-health-check' } }, (res) => {
      res.resume();
      res.on('error', () => resolve(false));
      resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

function splitHostPort(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  return [host, Number(address.slice(i + 1))];
}
