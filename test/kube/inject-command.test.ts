/** `pilotfish inject` as a command: files, stdin, flags, exit codes and messages. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { injectCommand, type CommandIo } from '../../src/kube/index.js';
import { parseObjects, validateObject } from './k8s-schema.js';

const FIXTURE = path.resolve(import.meta.dirname, 'fixtures/workloads.yaml');

function io(stdin = ''): CommandIo & { out: string; err: string } {
  const o = { out: '', err: '', stdout: (t: string) => { o.out += t; }, stderr: (t: string) => { o.err += t; }, readStdin: async () => stdin };
  return o;
}

let dir: string;
beforeAll(async () => { dir = await mkdtemp(path.join(tmpdir(), 'pilotfish-inject-')); });

const write = async (name: string, text: string): Promise<string> => {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
};

const POD = 'apiVersion: v1\nkind: Pod\nmetadata: { name: p }\nspec:\n  containers: [{ name: app, image: app }]\n';

describe('pilotfish inject', () => {
  it('--fleet sets the fleet on the sidecar; a URL with credentials is refused in favour of --fleet-secret', async () => {
    const file = await write('fleet-pod.yaml', POD);
    const env = async (...args: string[]): Promise<unknown> => {
      const o = io();
      expect(await injectCommand(['-f', file, ...args], o), o.err).toBe(0);
      return parseObjects(o.out)[0]!.spec.containers[1].env;
    };
    const podIp = { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } };
    const fleetVars = (list: unknown): unknown[] => (list as Array<{ name: string }>).filter((e) => /^PILOTFISH_FLEET|^POD_IP$/.test(e.name));
    expect(fleetVars(await env('--fleet', 'rediss://redis.mesh.svc:6380', '--fleet-key', 'shop'))).toEqual([
      { name: 'PILOTFISH_FLEET', value: 'rediss://redis.mesh.svc:6380' },
      { name: 'PILOTFISH_FLEET_KEY', value: 'shop' },
      podIp,
    ]);
    expect(fleetVars(await env('--fleet-secret', 'mesh-redis'))).toEqual([
      { name: 'PILOTFISH_FLEET', valueFrom: { secretKeyRef: { name: 'mesh-redis', key: 'url' } } },
      podIp,
    ]);
    expect(fleetVars(await env())).toEqual([]);
    expect(await env('--fleet-secret', 'mesh-redis/fleet-url')).toContainEqual({ name: 'PILOTFISH_FLEET', valueFrom: { secretKeyRef: { name: 'mesh-redis', key: 'fleet-url' } } });
    for (const [args, message] of [
      [['--fleet', 'redis://:hunter2@redis:6379'], /carries credentials.*--fleet-secret/],
      [['--fleet', 'http://redis'], /unsupported scheme http:/],
      [['--fleet-key', 'k'], /--fleet-key needs --fleet or --fleet-secret/],
      [['--fleet', 'redis://r', '--fleet-secret', 's'], /not both/],
      [['--fleet-secret', 'Bad_Name'], /NAME or NAME\/KEY/],
    ] as const) {
      const o = io();
      expect(await injectCommand(['-f', file, ...args], o)).toBe(2);
      expect(o.err).toMatch(message);
      expect(o.err + o.out).not.toContain('hunter2');
    }
  });

  it('--mtls mounts the workload certificate at /etc/pilotfish/certs from csi-driver-spiffe, or a Secret per service account', async () => {
    const file = await write('mtls-pod.yaml', POD);
    const saFile = await write('mtls-sa-pod.yaml', POD.replace('spec:\n', 'spec:\n  serviceAccountName: reviews\n'));
    const pod = async (f: string, ...args: string[]): Promise<Record<string, any>> => {
      const o = io();
      expect(await injectCommand(['-f', f, ...args], o), o.err).toBe(0);
      const injected = parseObjects(o.out)[0]!;
      validateObject(injected);
      return injected.spec;
    };
    const certs = (spec: Record<string, any>) => ({
      mount: (spec.containers[1].volumeMounts as Array<{ name: string }>).find((m) => m.name === 'pilotfish-certs'),
      volume: (spec.volumes as Array<{ name: string }>).find((v) => v.name === 'pilotfish-certs'),
    });
    const mount = { name: 'pilotfish-certs', mountPath: '/etc/pilotfish/certs', readOnly: true };
    expect(certs(await pod(file, '--mtls'))).toEqual({ mount, volume: { name: 'pilotfish-certs', csi: { driver: 'spiffe.csi.cert-manager.io', readOnly: true } } });
    expect(certs(await pod(saFile, '--mtls-secret', '{sa}-mesh-cert'))).toEqual({ mount, volume: { name: 'pilotfish-certs', secret: { secretName: 'reviews-mesh-cert' } } });
    expect(certs(await pod(file, '--mtls-secret', '{sa}-mesh-cert')).volume).toEqual({ name: 'pilotfish-certs', secret: { secretName: 'default-mesh-cert' } });
    expect(certs(await pod(file))).toEqual({ mount: undefined, volume: undefined });
    const o = io();
    expect(await injectCommand(['-f', file, '--mtls-secret', 'Bad_Name'], o)).toBe(2);
    expect(o.err).toMatch(/--mtls-secret takes a Secret name/);
  });

  it('writes the injected manifests to stdout with the flags applied', async () => {
    const o = io();
    const code = await injectCommand(['-f', FIXTURE, '--policy-configmap', 'shop-policy', '--image', 'reg.example/team/pilotfish:2.0', '--drain-timeout', '30s'], o);
    expect(code).toBe(0);
    const deployment = parseObjects(o.out)[0]!;
    const spec = deployment.spec.template.spec;
    expect(spec.containers[1].image).toBe('reg.example/team/pilotfish:2.0');
    expect(spec.initContainers[0].image).toBe('reg.example/team/pilotfish-init:2.0');
    expect(spec.containers[1].args).toEqual(['--drain-timeout', '30s']);
    expect(spec.terminationGracePeriodSeconds).toBe(35);
    expect(spec.volumes).toContainEqual({ name: 'pilotfish-policy', configMap: { name: 'shop-policy' } });
    // Notes go to stderr with the file and position, never into the manifests.
    expect(o.err).toMatch(new RegExp(`^${FIXTURE.replace(/[/.]/g, '\\$&')}:\\d+:1: Job/migrate: a classic sidecar`, 'm'));
    expect(o.out).not.toContain('classic sidecar');
  });

  it('--native-sidecar moves the sidecar into initContainers', async () => {
    const o = io();
    expect(await injectCommand(['--native-sidecar', '-f', FIXTURE], o)).toBe(0);
    const spec = parseObjects(o.out)[0]!.spec.template.spec;
    expect(spec.initContainers.map((c: { name: string }) => c.name)).toEqual(['pilotfish-init', 'pilotfish']);
    expect(o.err).toBe('');
  });

  it('reads standard input with -f -', async () => {
    const o = io(POD);
    expect(await injectCommand(['-f', '-', '--image', 'pf:1', '--init-image', 'pf-init:1'], o)).toBe(0);
    const pod = parseObjects(o.out)[0]!;
    expect(pod.spec.containers.map((c: { image: string }) => c.image)).toEqual(['app', 'pf:1']);
    expect(pod.spec.initContainers[0].image).toBe('pf-init:1');
  });

  it('joins several files into one stream', async () => {
    const a = await write('a.yaml', POD);
    const b = await write('b.yaml', '---\n' + POD.replace('name: p', 'name: q'));
    const c = await write('c.yaml', POD.replace('name: p', 'name: r'));
    const o = io();
    expect(await injectCommand(['-f', a, '-f', b, '--filename', c], o)).toBe(0);
    expect(parseObjects(o.out).map((x) => x.metadata.name)).toEqual(['p', 'q', 'r']);
    expect(o.out.match(/^---$/gm)).toHaveLength(2);
  });

  it('exits 1 with file:line:col on invalid YAML, writing nothing to stdout', async () => {
    const bad = await write('bad.yaml', POD + '---\nkind: Pod\nmetadata: [unclosed\n');
    const o = io();
    expect(await injectCommand(['-f', bad], o)).toBe(1);
    expect(o.out).toBe('');
    expect(o.err).toMatch(new RegExp(`^${bad.replace(/[/.]/g, '\\$&')}:\\d+:\\d+: `, 'm'));
  });

  it('exits 1 when a file cannot be read', async () => {
    const o = io();
    expect(await injectCommand(['-f', path.join(dir, 'missing.yaml')], o)).toBe(1);
    expect(o.err).toMatch(/cannot read .*missing\.yaml: ENOENT/);
    expect(o.out).toBe('');
  });

  it.each([
    [[], /no input/],
    [['deployment.yaml'], /unexpected argument "deployment.yaml" \(name files with -f\)/],
    [['-f', FIXTURE, '--drain-timeout', 'soon'], /invalid --drain-timeout "soon"/],
    [['-f', FIXTURE, '--image', 'reg.example/pf@sha256:abc'], /pinned by digest: name the init image with --init-image/],
    [['-f', FIXTURE, '--sidecar'], /Unknown option '--sidecar'/],
  ])('usage error %j exits 2', async (args, message) => {
    const o = io();
    expect(await injectCommand(args, o)).toBe(2);
    expect(o.err).toMatch(message);
    expect(o.err).toContain('usage: pilotfish inject -f FILE');
    expect(o.out).toBe('');
  });

  it('accepts a digest-pinned image when the init image is named', async () => {
    const o = io(POD);
    expect(await injectCommand(['-f', '-', '--image', 'reg/pf@sha256:abc', '--init-image', 'reg/pf-init@sha256:def'], o)).toBe(0);
    expect(parseObjects(o.out)[0]!.spec.initContainers[0].image).toBe('reg/pf-init@sha256:def');
  });

  it('--help prints the usage on stdout', async () => {
    const o = io();
    expect(await injectCommand(['--help'], o)).toBe(0);
    expect(o.out).toContain('--native-sidecar');
  });
});
