import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { injectManifests, type InjectResult } from './inject.js';
import type { SidecarSettings } from './sidecar-spec.js';

const SETTINGS: SidecarSettings = {
  image: 'reg.example/pilotfish:1.2.3',
  initImage: 'reg.example/pilotfish-init:1.2.3',
  policyConfigMap: 'mesh-policy',
  nativeSidecar: false,
  drainTimeoutMs: 20_000,
};
const WORKLOADS = readFileSync(new URL('../../test/kube/fixtures/workloads.yaml', import.meta.url), 'utf8');

type Obj = Record<string, any>;

function inject(text: string, settings: Partial<SidecarSettings> = {}): InjectResult {
  return injectManifests(text, { ...SETTINGS, ...settings });
}

function objects(text: string): Obj[] {
  return parseAllDocuments(text, { version: '1.1' }).map((d) => d.toJS() as Obj);
}

function podTemplate(o: Obj): Obj {
  switch (o.kind) {
    case 'Pod': return o;
    case 'CronJob': return o.spec.jobTemplate.spec.template;
    default: return o.spec.template;
  }
}

const containerNames = (list: Obj[] | undefined): string[] => (list ?? []).map((c) => c.name as string);

describe('injectManifests', () => {
  const result = inject(WORKLOADS);
  const out = objects(result.output);

  it('injects every workload kind and nothing else', () => {
    expect(result.ok).toBe(true);
    expect(result.injected).toEqual(['Deployment/web', 'StatefulSet/db', 'DaemonSet/agent', 'Job/migrate', 'CronJob/report', 'Pod/debug']);
    expect(out.map((o) => o.kind)).toEqual(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Pod', 'Service', 'ConfigMap']);
  });

  it.each(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Pod'])('%s gets the sidecar, init container, volume, grace period and annotations', (kind) => {
    const pod = podTemplate(out.find((o) => o.kind === kind)!);
    const spec = pod.spec;
    const app = spec.containers[0].name;
    expect(containerNames(spec.containers)).toEqual([app, 'pilotfish']);
    expect(containerNames(spec.initContainers)).toEqual(['pilotfish-init']);
    const sidecar = spec.containers[1];
    expect(sidecar.image).toBe(SETTINGS.image);
    expect(sidecar.args).toEqual(['--drain-timeout', '20s']);
    expect(sidecar.readinessProbe.httpGet).toEqual({ path: '/healthz/ready', port: 15020 });
    expect(sidecar.livenessProbe.httpGet).toEqual({ path: '/healthz/live', port: 15020 });
    expect(sidecar.securityContext).toMatchObject({ runAsUser: 1337, runAsGroup: 1337, runAsNonRoot: true, readOnlyRootFilesystem: true });
    expect(sidecar.volumeMounts).toEqual([{ name: 'pilotfish-policy', mountPath: '/etc/pilotfish', readOnly: true }]);
    expect(sidecar.env).toEqual([
      { name: 'PILOTFISH_POLICY', value: '/etc/pilotfish/policy.yaml' },
      // The pod's place from its topology labels (KEP-4742 copies the node's onto the pod).
      { name: 'PILOTFISH_REGION', valueFrom: { fieldRef: { fieldPath: "metadata.labels['topology.kubernetes.io/region']" } } },
      { name: 'PILOTFISH_ZONE', valueFrom: { fieldRef: { fieldPath: "metadata.labels['topology.kubernetes.io/zone']" } } },
      { name: 'PILOTFISH_LOCALITY', value: '$(PILOTFISH_REGION)/$(PILOTFISH_ZONE)' },
    ]);
    const init = spec.initContainers[0];
    expect(init.image).toBe(SETTINGS.initImage);
    expect(init.securityContext.capabilities).toEqual({ add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] });
    expect(spec.volumes).toContainEqual({ name: 'pilotfish-policy', configMap: { name: 'mesh-policy' } });
    expect(spec.terminationGracePeriodSeconds).toBe(25);
    expect(pod.metadata.annotations).toMatchObject({
      'pilotfish.io/status': 'injected',
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '15020',
      'prometheus.io/path': '/metrics',
      'kubectl.kubernetes.io/default-container': app,
    });
    expect(pod.metadata.labels['pilotfish.io/injected']).toBe('true');
  });

  it('keeps the StatefulSet volume mounts and claim templates', () => {
    const sts = out.find((o) => o.kind === 'StatefulSet')!;
    expect(sts.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    expect(sts.spec.template.spec.containers[0].volumeMounts).toEqual([{ name: 'data', mountPath: '/var/lib/postgresql/data' }]);
  });

  it('passes other objects through byte for byte', () => {
    const tail = WORKLOADS.slice(WORKLOADS.indexOf('---\napiVersion: v1\nkind: Service'));
    expect(result.output.endsWith(tail)).toBe(true);
  });

  it('is idempotent: injecting the output changes nothing', () => {
    const again = inject(result.output);
    expect(again.ok).toBe(true);
    expect(again.injected).toEqual([]);
    expect(again.output).toBe(result.output);
    const nativeOnce = inject(WORKLOADS, { nativeSidecar: true }).output;
    expect(inject(nativeOnce, { nativeSidecar: true }).output).toBe(nativeOnce);
  });

  it('warns that a classic sidecar keeps Jobs from completing', () => {
    expect(result.notes.map((n) => n.message)).toEqual([
      expect.stringMatching(/^Job\/migrate: a classic sidecar .* --native-sidecar/),
      expect.stringMatching(/^CronJob\/report: a classic sidecar/),
    ]);
    expect(result.notes[0]!.line).toBeGreaterThan(1);
  });
});

describe('native sidecar', () => {
  const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      initContainers:
        - { name: wait-for-db, image: busybox }
      containers:
        - { name: web, image: nginx }
`;

  it('puts capture, then the sidecar (restartPolicy: Always, startup probe), before the user init containers', () => {
    const r = inject(deployment, { nativeSidecar: true });
    expect(r.notes).toEqual([]);
    const spec = objects(r.output)[0]!.spec.template.spec;
    expect(containerNames(spec.initContainers)).toEqual(['pilotfish-init', 'pilotfish', 'wait-for-db']);
    expect(containerNames(spec.containers)).toEqual(['web']);
    expect(spec.initContainers[1].restartPolicy).toBe('Always');
    expect(spec.initContainers[1].startupProbe.httpGet).toEqual({ path: '/healthz/ready', port: 15020 });
  });

  it('classic mode runs the user init containers before capture', () => {
    const spec = objects(inject(deployment).output)[0]!.spec.template.spec;
    expect(containerNames(spec.initContainers)).toEqual(['wait-for-db', 'pilotfish-init']);
    expect(spec.containers[1].restartPolicy).toBeUndefined();
    expect(spec.containers[1].startupProbe).toBeUndefined();
  });

  it('lets Jobs complete without a warning', () => {
    expect(inject(WORKLOADS, { nativeSidecar: true }).notes).toEqual([]);
  });
});

const pod = (extra: string, spec = ''): string => `apiVersion: v1
kind: Pod
metadata:
  name: p
${extra}spec:
${spec}  containers:
    - name: app
      image: app:1
`;

describe('opt-out and skips', () => {
  it.each([
    ['quoted', '  annotations:\n    pilotfish.io/inject: "false"\n'],
    ['unquoted (a YAML boolean)', '  annotations:\n    pilotfish.io/inject: false\n'],
  ])('leaves a pod annotated pilotfish.io/inject false (%s) untouched', (_name, annotations) => {
    const text = pod(annotations);
    const r = inject(text);
    expect(r.output).toBe(text);
    expect(r.injected).toEqual([]);
  });

  it('honours the annotation on the workload as well as on its template', () => {
    const text = WORKLOADS.replace('metadata:\n  name: web\n', 'metadata:\n  name: web\n  annotations: { pilotfish.io/inject: "false" }\n');
    const r = inject(text);
    expect(r.injected).not.toContain('Deployment/web');
    expect(r.output.slice(0, r.output.indexOf('---'))).toBe(text.slice(0, text.indexOf('---')));
  });

  it('skips hostNetwork pods with a note', () => {
    const text = pod('', '  hostNetwork: true\n');
    const r = inject(text);
    expect(r.output).toBe(text);
    expect(r.notes[0]!.message).toMatch(/Pod\/p: skipped: hostNetwork/);
  });

  it('passes through unknown kinds, CRDs that reuse a workload name, and documents without kind', () => {
    const text = `apiVersion: apps.openshift.io/v1
kind: Deployment
metadata: { name: legacy }
spec: { template: { spec: { containers: [{ name: a, image: b }] } } }
---
just: a map
---
- a list
---
`;
    const r = inject(text);
    expect(r).toMatchObject({ ok: true, output: text, injected: [] });
  });

  it('keeps empty and comment-only input as it is', () => {
    expect(inject('').output).toBe('');
    expect(inject('# nothing here\n').output).toBe('# nothing here\n');
  });
});

describe('editing in place', () => {
  it('keeps comments, key order and YAML 1.1 values (octal stays octal)', () => {
    const text = `# top comment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web # the frontend
spec:
  # two replicas
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    spec:
      containers:
      - name: web   # main container
        image: nginx
        volumeMounts: [{name: cfg, mountPath: /cfg}]
      volumes:
      - name: cfg
        configMap: {name: cfg, defaultMode: 0644}
`;
    const r = inject(text);
    expect(r.output).toMatch(/^# top comment\napiVersion: apps\/v1\nkind: Deployment\nmetadata:\n  name: web # the frontend\nspec:\n  # two replicas\n  replicas: 2\n/);
    expect(r.output).toContain('- name: web # main container');
    expect(r.output).toContain('defaultMode: 0644');
    // The author's sequence style (dashes not indented) is kept for the added containers too.
    expect(r.output).toContain('      containers:\n      - name: web');
    expect(r.output).toContain('      - name: pilotfish\n');
    // metadata is created at the top of the template, initContainers just before containers.
    expect(r.output).toMatch(/  template:\n    metadata:\n/);
    expect(r.output).toMatch(/      initContainers:\n      - name: pilotfish-init[\s\S]*\n      containers:\n/);
    const volumes = objects(r.output)[0]!.spec.template.spec.volumes;
    expect(volumes[0]).toEqual({ name: 'cfg', configMap: { name: 'cfg', defaultMode: 0o644 } });
  });

  it('keeps values the user set: annotations, default container, a longer grace period, an existing policy volume', () => {
    const text = pod(
      '  annotations:\n    prometheus.io/port: "9090"\n    kubectl.kubernetes.io/default-container: other\n',
      '  terminationGracePeriodSeconds: 60\n  volumes:\n    - { name: pilotfish-policy, configMap: { name: custom } }\n',
    );
    const p = objects(inject(text).output)[0]!;
    expect(p.metadata.annotations['prometheus.io/port']).toBe('9090');
    expect(p.metadata.annotations['kubectl.kubernetes.io/default-container']).toBe('other');
    expect(p.spec.terminationGracePeriodSeconds).toBe(60);
    expect(p.spec.volumes).toEqual([{ name: 'pilotfish-policy', configMap: { name: 'custom' } }]);
  });

  it('raises a short grace period to cover the drain timeout', () => {
    const p = objects(inject(pod('', '  terminationGracePeriodSeconds: 5\n'), { drainTimeoutMs: 45_000 }).output)[0]!;
    expect(p.spec.terminationGracePeriodSeconds).toBe(50);
    expect(p.spec.containers[1].args).toEqual(['--drain-timeout', '45s']);
  });

  it('fills keys that are present but empty', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\nspec:\n  initContainers:\n  containers: [{ name: app, image: a }]\n  volumes:\n';
    const p = objects(inject(text).output)[0]!;
    expect(p.metadata.annotations['pilotfish.io/status']).toBe('injected');
    expect(containerNames(p.spec.initContainers)).toEqual(['pilotfish-init']);
    expect(p.spec.volumes).toHaveLength(1);
  });

  it('turns capture annotations into init container flags', () => {
    const text = pod('  annotations:\n    pilotfish.io/exclude-outbound-ports: "5432, 6379"\n    pilotfish.io/exclude-outbound-cidrs: 169.254.169.254\n    pilotfish.io/include-inbound-ports: "8080"\n');
    const init = objects(inject(text).output)[0]!.spec.initContainers[0];
    expect(init.args).toEqual([
      '--proxy-uid', '1337', '--inbound-port', '15006', '--outbound-port', '15001',
      '--include-inbound-ports', '8080', '--exclude-outbound-ports', '5432,6379', '--exclude-outbound-cidrs', '169.254.169.254/32',
    ]);
  });

  it('sets PILOTFISH_LOCALITY from the pilotfish.io/locality annotation instead of the topology labels', () => {
    const env = objects(inject(pod('  annotations:\n    pilotfish.io/locality: us-east-1/us-east-1a\n')).output)[0]!.spec.containers[1].env;
    expect(env).toEqual([
      { name: 'PILOTFISH_POLICY', value: '/etc/pilotfish/policy.yaml' },
      { name: 'PILOTFISH_LOCALITY', value: 'us-east-1/us-east-1a' },
    ]);
  });

  it('injects each item of a kind: List', () => {
    const text = `apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: { name: a }
    spec: { selector: { matchLabels: { x: a } }, template: { metadata: { labels: { x: a } }, spec: { containers: [{ name: a, image: a }] } } }
  - apiVersion: v1
    kind: Service
    metadata: { name: a }
`;
    const r = inject(text);
    expect(r.injected).toEqual(['Deployment/a']);
    expect(containerNames(objects(r.output)[0]!.items[0].spec.template.spec.containers)).toEqual(['a', 'pilotfish']);
  });
});

describe('errors', () => {
  it('reports invalid YAML with line and column and outputs nothing', () => {
    const r = inject('apiVersion: v1\nkind: Pod\nmetadata: {name: p\nspec: {}\n');
    expect(r.ok).toBe(false);
    expect(r.output).toBe('');
    expect(r.errors[0]).toMatchObject({ line: 4, col: 1 });
    expect(r.errors[0]!.message).toMatch(/flow map/i);
  });

  it('reports duplicate keys', () => {
    const r = inject('a: 1\nb: 2\na: 3\n');
    expect(r.errors[0]).toMatchObject({ line: 3, col: 1, message: expect.stringMatching(/unique/) });
  });

  it('reports a workload whose shape is wrong, at the offending node', () => {
    const r = inject('apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: x }\nspec:\n  template:\n    spec:\n      containers: nope\n');
    expect(r.ok).toBe(false);
    expect(r.errors[0]).toMatchObject({ line: 7, col: 19, message: 'Deployment/x: the pod spec has no containers list' });

    const noTemplate = inject('apiVersion: batch/v1\nkind: Job\nmetadata: { name: j }\nspec: {}\n');
    expect(noTemplate.errors[0]!.message).toBe('Job/j: no pod template at spec.template');
  });

  it('reports a malformed pilotfish.io/locality at its value', () => {
    const r = inject(pod('  annotations:\n    pilotfish.io/locality: "r1/a/rack-3"\n'));
    expect(r.ok).toBe(false);
    expect(r.errors[0]).toMatchObject({ line: 6, col: 28, message: expect.stringContaining('pilotfish.io/locality: expected region/zone') });
  });

  it('reports a bad capture annotation at the annotations', () => {
    const r = inject(pod('  annotations:\n    pilotfish.io/exclude-outbound-ports: "http"\n'));
    expect(r.ok).toBe(false);
    expect(r.errors[0]).toMatchObject({ line: 6, col: 42, message: expect.stringContaining('pilotfish.io/exclude-outbound-ports: invalid port "http"') });
  });
});
