/**
 * The two ways to reach the outbound path, behind one small client so one table of cases runs
 * against both: the real sidecar through its outbound port (Host routes), and library mode's
 * `mesh.fetch` (the URL's authority routes). Same policy text, same upstreams, same assertions.
 */
import { createMesh, type Mesh } from '../../src/index.js';
import type { Sidecar } from '../../src/sidecar.js';
import { request } from '../helpers/http.js';
import { startSidecar, TEST_ENGINE, testListeners } from '../helpers/sidecar.js';

export interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

export interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface Client {
  call(host: string, path?: string, opts?: CallOptions): Promise<Answer>;
  close(): Promise<void>;
}

export interface Mode {
  readonly name: string;
  /** `body` is the policy without `version` and `listeners`. */
  start(body: string): Promise<Client>;
}

export const sidecarMode: Mode = {
  name: 'sidecar outbound port',
  async start(body) {
    const s: Sidecar = await startSidecar(`version: 1\n${testListeners()}${body}`);
    return {
      async call(host, path = '/', opts = {}) {
        const r = await request(s.ports.outbound, { path, method: opts.method ?? 'GET', headers: { host, ...opts.headers }, ...(opts.body === undefined ? {} : { body: opts.body }) });
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(r.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        return { status: r.status, headers, text: r.text };
      },
      close: () => s.close(),
    };
  },
};

export const meshMode: Mode = {
  name: 'mesh.fetch',
  async start(body) {
    const mesh: Mesh = await createMesh({ policy: `version: 1\n${body}`, engine: TEST_ENGINE });
    return {
      async call(host, path = '/', opts = {}) {
        const r = await mesh.fetch(`http://${host}${path}`, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, ...(opts.body === undefined ? {} : { body: opts.body }) });
        const headers: Record<string, string> = {};
        r.headers.forEach((v, k) => { headers[k] = v; });
        return { status: r.status, headers, text: await r.text() };
      },
      close: () => mesh.close(),
    };
  },
};

export const MODES: readonly Mode[] = [sidecarMode, meshMode];
