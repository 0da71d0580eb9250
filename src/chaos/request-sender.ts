/**
 * Sends one request from a template through the sidecar and reports what came back: status, flags,
 * the fake instance that answered, bytes — or why nothing did. Never rejects: a failed request is a
 * data point, not an exception.
 */
import http from '../core/node-http.js';
import type { Agent, OutgoingHttpHeaders } from 'node:http';
import type { RequestTemplate } from './load-schema.js';
import { INSTANCE_HEADER, UPSTREAM_HEADER } from './fake-endpoint.js';

export const FLAGS_HEADER = 'x-pilotfish-flags';

export interface SendResult {
  readonly status: number;
  readonly error?: string;
  readonly flags: readonly string[];
  readonly instance?: string;
  readonly upstream?: string;
  readonly bytes: number;
}

export interface SendOptions {
  readonly agent: Agent;
  /** The sidecar listener, e.g. http://127.0.0.1:15001. */
  readonly target: URL;
  readonly template: Omit<RequestTemplate, 'weight'>;
  readonly seq: number;
  /** ms; an unanswered request is destroyed and recorded as `TIMEOUT`. */
  readonly timeoutMs: number;
  readonly random?: () => number;
}

export function sendRequest(o: SendOptions): Promise<SendResult> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: SendResult): void => { if (!done) { done = true; clearTimeout(timer); resolve(r); } };
    const fail = (err: Error): void => finish({ status: 0, error: (err as NodeJS.ErrnoException).code ?? err.message, flags: [], bytes: 0 });
    const headers: OutgoingHttpHeaders = { host: o.template.host ?? o.target.host };
    for (const [k, v] of Object.entries(o.template.headers)) headers[k] = expand(v, o.seq, o.random ?? Math.random);
    const body = o.template.body === undefined ? undefined : Buffer.from(o.template.body);
    if (body) headers['content-length'] = body.length;
    const req = http.request({
      host: o.target.hostname, port: o.target.port || 80, method: o.template.method, path: o.template.path, headers, agent: o.agent,
    }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => { bytes += c.length; });
      res.on('error', fail);
      // An answer cut short (the sidecar reset mid-body) is not a success, whatever its status said.
      res.on('aborted', () => fail(Object.assign(new Error('response aborted'), { code: 'ABORTED' })));
      res.on('end', () => finish({
        status: res.statusCode ?? 0,
        flags: headerList(res.headers[FLAGS_HEADER]),
        ...optional('instance', res.headers[INSTANCE_HEADER]),
        ...optional('upstream', res.headers[UPSTREAM_HEADER]),
        bytes,
      }));
    });
    const timer = setTimeout(() => { req.destroy(Object.assign(new Error('timed out'), { code: 'TIMEOUT' })); }, o.timeoutMs);
    req.on('error', fail);
    req.end(body);
  });
}

/** `${seq}` → the request number, `${rand:N}` → a random integer in [0, N). */
function expand(value: string, seq: number, random: () => number): string {
  return value.replace(/\$\{seq\}/g, String(seq)).replace(/\$\{rand:(\d+)\}/g, (_m, n: string) => String(Math.floor(random() * Number(n))));
}

function headerList(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v.join(',') : v).split(',').map((f) => f.trim()).filter(Boolean);
}

function optional<K extends string>(key: K, v: string | string[] | undefined): Partial<Record<K, string>> {
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined ? {} : ({ [key]: s } as Record<K, string>);
}
