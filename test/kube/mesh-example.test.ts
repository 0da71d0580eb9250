/**
 * deploy/mesh/: two meshed services — frontend calls reviews over mutual TLS — as shipped: the
 * injected manifests are exactly `pilotfish inject --mtls`'s output, every object is schema-valid,
 * the policies are accepted, their identity files are where the certificate volume is mounted,
 * and reviews' authorization admits frontend and the kubelet's probe and nothing else.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileAuthorization } from '../../src/authz/index.js';
import { formatDiagnostic, parsePolicy, type Policy } from '../../src/config/index.js';
import { injectManifests, type SidecarSettings } from '../../src/kube/index.js';
import { packageVersion } from '../../src/kube/names.js';
import { parseObjects, validateObject } from './k8s-schema.js';

const MESH = path.resolve(import.meta.dirname, '../../deploy/mesh');
const read = (file: string): string => readFileSync(path.join(MESH, file), 'utf8');
const settings = (service: string): SidecarSettings => ({
  image: `pilotfish:${packageVersion()}`, initImage: `pilotfish-init:${packageVersion()}`, policyConfigMap: `${service}-policy`,
  nativeSidecar: false, drainTimeoutMs: 20_000, mtls: { source: 'csi' },
});

function policies(): Map<string, Policy> {
  const out = new Map<string, Policy>();
  for (const cm of parseObjects(read('policies.yaml'))) {
    const r = parsePolicy(cm.data['policy.yaml'], `deploy/mesh/policies.yaml#${cm.metadata.name}`);
    expect(r.ok ? [] : r.errors.map(formatDiagnostic)).toEqual([]);
    if (r.ok) out.set(cm.metadata.name, r.policy);
  }
  return out;
}

describe('deploy/mesh', () => {
  it.each(['frontend', 'reviews'])('%s-injected.yaml is exactly pilotfish inject --mtls of %s.yaml, and schema-valid', (service) => {
    const result = injectManifests(read(`${service}.yaml`), settings(service));
    expect(result.ok).toBe(true);
    expect(read(`${service}-injected.yaml`), `regenerate with: npx pilotfish inject -f deploy/mesh/${service}.yaml --mtls --policy-configmap ${service}-policy > deploy/mesh/${service}-injected.yaml`)
      .toBe(result.output);
    for (const file of [`${service}.yaml`, `${service}-injected.yaml`, 'policies.yaml']) {
      for (const o of parseObjects(read(file))) {
        validateObject(o);
        expect(o.metadata?.namespace).toBeUndefined();
      }
    }
    const pod = parseObjects(result.output).find((o) => o.kind === 'Deployment')!.spec.template.spec;
    expect(pod.volumes).toContainEqual({ name: 'pilotfish-certs', csi: { driver: 'spiffe.csi.cert-manager.io', readOnly: true } });
    expect(pod.volumes).toContainEqual({ name: 'pilotfish-policy', configMap: { name: `${service}-policy` } });
    // The identity's files are in the mounted certificate volume.
    const sidecar = pod.containers.find((c: { name: string }) => c.name === 'pilotfish');
    const mount = sidecar.volumeMounts.find((m: { name: string }) => m.name === 'pilotfish-certs').mountPath;
    const identity = policies().get(`${service}-policy`)!.identity!;
    for (const f of [identity.certFile, identity.keyFile, identity.caFile]) expect(path.dirname(f)).toBe(mount);
  });

  it('frontend originates mutual TLS to reviews; reviews admits frontend\'s reads and the kubelet\'s probe only', () => {
    const p = policies();
    expect(p.get('frontend-policy')!.upstreams.reviews!.tls).toMatchObject({ mode: 'mutual' });
    const reviews = p.get('reviews-policy')!;
    expect(reviews.listeners.inbound.tls.mode).toBe('permissive');
    const authz = compileAuthorization(reviews.authorization)!;
    const ask = (principal: string | undefined, method: string, reqPath: string) =>
      authz.decide({ principal, namespace: principal?.split('/')[4], sourceIp: '10.0.0.7', method, path: reqPath, port: 80 });
    expect(ask('spiffe://cluster.local/ns/shop/sa/frontend', 'GET', '/reviews/1')).toMatchObject({ allowed: true, rule: 'frontend-reads' });
    expect(ask(undefined, 'GET', '/hostname')).toMatchObject({ allowed: true, rule: 'kubelet-probe' });
    expect(ask(undefined, 'GET', '/reviews/1')).toMatchObject({ allowed: false });
    expect(ask('spiffe://cluster.local/ns/shop/sa/cart', 'GET', '/reviews/1')).toMatchObject({ allowed: false });
    expect(ask('spiffe://cluster.local/ns/shop/sa/frontend', 'GET', '/shell?cmd=id')).toMatchObject({ allowed: false, rule: 'no-debug' });
  });
});
