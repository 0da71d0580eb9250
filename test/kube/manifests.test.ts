/**
 * The shipped manifests (deploy/) and the injector's output, checked against the Kubernetes
 * schemas and against what the sidecar needs: probes, ports, grace period, policy.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, parsePolicy } from '../../src/config/index.js';
import { injectManifests, type SidecarSettings } from '../../src/kube/index.js';
import { packageVersion } from '../../src/kube/names.js';
import { parseObjects, validateObject } from './k8s-schema.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEPLOY = path.join(ROOT, 'deploy');
const read = (file: string): string => readFileSync(file, 'utf8');
const shipped = readdirSync(DEPLOY).filter((f) => f.endsWith('.yaml')).sort();

/** What `pilotfish inject` uses without flags, for the release in package.json. */
const DEFAULTS: SidecarSettings = {
  image: `pilotfish:${packageVersion()}`,
  initImage: `pilotfish-init:${packageVersion()}`,
  policyConfigMap: 'pilotfish-policy',
  nativeSidecar: false,
  drainTimeoutMs: 20_000,
};

describe('deploy/ manifests', () => {
  it('ships the example, its injected forms, the policy and a PodMonitor', () => {
    expect(shipped).toEqual(expect.arrayContaining(['app-injected-native.yaml', 'app-injected.yaml', 'app.yaml', 'podmonitor.yaml', 'policy-configmap.yaml']));
  });

  it.each(shipped)('%s is valid against the Kubernetes schemas and names no namespace', (file) => {
    const objects = parseObjects(read(path.join(DEPLOY, file)));
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) {
      validateObject(o);
      expect(o.metadata?.namespace, `${file}: ${o.kind}/${o.metadata?.name}`).toBeUndefined();
    }
  });

  it.each([
    ['app-injected.yaml', false],
    ['app-injected-native.yaml', true],
  ])('%s is exactly what pilotfish inject makes of app.yaml', (file, nativeSidecar) => {
    const result = injectManifests(read(path.join(DEPLOY, 'app.yaml')), { ...DEFAULTS, nativeSidecar });
    expect(result.ok).toBe(true);
    expect(read(path.join(DEPLOY, file)), `regenerate with: npx pilotfish inject -f deploy/app.yaml${nativeSidecar ? ' --native-sidecar' : ''} > deploy/${file}`)
      .toBe(result.output);
  });

  it.each([
    ['app-injected.yaml', 'containers'],
    ['app-injected-native.yaml', 'initContainers'],
  ])('%s: probes on 15020, resources everywhere, grace period covering the drain', (file, where) => {
    const deployment = parseObjects(read(path.join(DEPLOY, file))).find((o) => o.kind === 'Deployment')!;
    const spec = deployment.spec.template.spec;
    const sidecar = spec[where].find((c: { name: string }) => c.name === 'pilotfish');
    expect(sidecar.readinessProbe.httpGet).toEqual({ path: '/healthz/ready', port: 15020 });
    expect(sidecar.livenessProbe.httpGet).toEqual({ path: '/healthz/live', port: 15020 });
    if (where === 'initContainers') expect(sidecar.restartPolicy).toBe('Always');
    for (const c of [...spec.initContainers, ...spec.containers]) {
      expect(c.resources?.requests, c.name).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
      expect(c.resources?.limits, c.name).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    }
    const drain = sidecar.args[sidecar.args.indexOf('--drain-timeout') + 1];
    expect(drain).toBe('20s');
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(20);
    expect(spec.terminationGracePeriodSeconds).toBeLessThanOrEqual(30);
    expect(deployment.spec.template.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '15020' });
  });

  it('the PodMonitor selects injected pods and scrapes a port the sidecar declares', () => {
    const monitor = parseObjects(read(path.join(DEPLOY, 'podmonitor.yaml')))[0]!;
    const pod = parseObjects(read(path.join(DEPLOY, 'app-injected.yaml'))).find((o) => o.kind === 'Deployment')!.spec.template;
    for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels)) expect(pod.metadata.labels[k]).toBe(v);
    const sidecar = pod.spec.containers.find((c: { name: string }) => c.name === 'pilotfish');
    const endpoint = monitor.spec.podMetricsEndpoints[0];
    expect(sidecar.ports).toContainEqual({ name: endpoint.port, containerPort: 15020, protocol: 'TCP' });
    expect(endpoint.path).toBe('/metrics');
  });

  it('the ConfigMap holds a policy the sidecar accepts, with the app the Service targets', () => {
    const cm = parseObjects(read(path.join(DEPLOY, 'policy-configmap.yaml')))[0]!;
    const result = parsePolicy(cm.data['policy.yaml'], 'deploy/policy-configmap.yaml#policy.yaml');
    expect(result.ok ? [] : result.errors.map(formatDiagnostic)).toEqual([]);
    if (!result.ok) return;
    expect(result.policy.listeners.inbound.app).toBe('http://127.0.0.1:8080');
    const service = parseObjects(read(path.join(DEPLOY, 'app.yaml'))).find((o) => o.kind === 'Service')!;
    const app = parseObjects(read(path.join(DEPLOY, 'app.yaml'))).find((o) => o.kind === 'Deployment')!.spec.template.spec.containers[0];
    const target = app.ports.find((p: { name: string }) => p.name === service.spec.ports[0].targetPort);
    expect(target.containerPort).toBe(8080);
  });
});

describe('injected output is schema-valid', () => {
  const workloads = read(path.join(ROOT, 'test/kube/fixtures/workloads.yaml'));

  it.each([false, true])('every kind (native sidecar: %s)', (nativeSidecar) => {
    const result = injectManifests(workloads, { ...DEFAULTS, nativeSidecar });
    expect(result.ok).toBe(true);
    const objects = parseObjects(result.output);
    expect(objects).toHaveLength(8);
    for (const o of objects) validateObject(o);
  });

  it('the schema check catches a broken container (it is not a no-op)', () => {
    const pod = parseObjects(injectManifests(workloads, DEFAULTS).output).find((o) => o.kind === 'Pod')!;
    pod.spec.containers[1].ports[0].containerPort = '15001';
    expect(() => validateObject(pod)).toThrow(/containerPort must be integer/);
    pod.spec.containers[1].ports[0].containerPort = 15001;
    pod.spec.containers[1].readinessProbe.periodSeconds = 'often';
    expect(() => validateObject(pod)).toThrow(/periodSeconds/);
    expect(() => validateObject({ apiVersion: 'v1', kind: 'Secretive' })).toThrow(/no schema/);
  });
});
