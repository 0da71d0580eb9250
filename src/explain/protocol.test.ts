import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderExplanation } from './explain.js';
import { explainFile } from './offline.js';

describe('explain and the upstream protocol (SPEC §11)', () => {
  it('names each destination\'s protocol, and the gRPC statuses a POST is still retried on', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pilotfish-explain-'));
    const file = path.join(dir, 'policy.yaml');
    await writeFile(file, `version: 1
upstreams:
  grpc: { protocol: http2, endpoints: [{ address: "10.0.0.1:50051" }] }
  web: { endpoints: [{ address: "10.0.0.2:8080" }] }
routes:
  - name: split
    match: { host: svc }
    to: [{ upstream: grpc, weight: 50 }, { upstream: web, weight: 50 }]
    retries: { attempts: 1, retryOn: [unavailable, 5xx] }
`);
    const r = await explainFile(file, { url: 'http://svc/pkg.Svc/Call', method: 'POST', headers: { 'content-type': 'application/grpc' } });
    if (!r.ok) throw new Error('policy refused');
    expect(r.result.protocols).toEqual({ grpc: 'http2', web: 'downstream' });
    const text = renderExplanation(r.result);
    expect(text).toMatch(/50% grpc \[http2\]: /);
    expect(text).toMatch(/50% web: /);
    expect(text).toMatch(/the gRPC statuses unavailable are retried whatever the method/);
  });
});
