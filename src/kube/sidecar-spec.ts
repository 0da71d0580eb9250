/**
 * The containers and volume the injector adds to a pod, as plain data: the Pilotfish sidecar, the
 * `pilotfish-init` container that installs the capture rules, the policy ConfigMap volume and, with
 * `--mtls`, the workload certificate volume.
 * The shipped manifests in deploy/ are this output (a test keeps them in step).
 */
import { formatDuration } from '../config/index.js';
import {
  parseCidrList, parseCidrSelection, parsePortList, parsePortSelection, type Cidr, type Parsed,
} from './capture-options.js';
import type { ConfigMapVolume, Container, CsiVolume, EnvVar, Probe, SecretVolume } from './k8s-types.js';
import {
  ANNOTATION, CERTS_DIR, CERTS_VOLUME, INIT_NAME, POLICY_DIR, POLICY_FILE, POLICY_VOLUME, PORTS, PROXY_UID, SIDECAR_NAME,
  SPIFFE_CSI_DRIVER, TOPOLOGY_LABELS,
} from './names.js';

export interface SidecarSettings {
  /** The sidecar image; its entry point is `pilotfish run`. */
  readonly image: string;
  /** The image with iptables whose entry point is `pilotfish iptables`. */
  readonly initImage: string;
  /** ConfigMap holding `policy.yaml`. Default `pilotfish-policy`. */
  readonly policyConfigMap: string;
  /** Run the sidecar as a native sidecar (an init container with `restartPolicy: Always`, Kubernetes ≥ 1.29). */
  readonly nativeSidecar: boolean;
  /** How long in-flight requests may finish after SIGTERM (ms). Default 20 000. */
  readonly drainTimeoutMs: number;
  /** The fleet the sidecar joins (SPEC §9): its URL, or a Secret holding it (a URL with a password belongs in one). */
  readonly fleet?: FleetSettings | undefined;
  /** Mount the workload certificate (SPEC §12) at /etc/pilotfish/certs; absent: no certificate volume. */
  readonly mtls?: MtlsSettings | undefined;
}

/**
 * Where the workload certificate comes from (`--mtls`):
 * - `csi`: cert-manager's csi-driver-spiffe mints a per-pod certificate for the pod's service
 *   account (`spiffe://<trust-domain>/ns/<ns>/sa/<sa>`) and renews it in place;
 * - `secret`: a Secret per service account in cert-manager's layout (a `Certificate` whose
 *   `secretName` this names; `{sa}` in it becomes the pod's service account).
 */
export type MtlsSettings = { readonly source: 'csi' } | { readonly source: 'secret'; readonly secretName: string };

/** The certificate volume for a pod running as `serviceAccount` (`default` when the pod names none). */
export function certsVolume(m: MtlsSettings, serviceAccount: string | undefined): SecretVolume | CsiVolume {
  if (m.source === 'secret') return { name: CERTS_VOLUME, secret: { secretName: m.secretName.replaceAll('{sa}', serviceAccount ?? 'default') } };
  return { name: CERTS_VOLUME, csi: { driver: SPIFFE_CSI_DRIVER, readOnly: true } };
}

export interface FleetSettings {
  readonly url?: string | undefined;
  readonly secret?: { readonly name: string; readonly key: string } | undefined;
  /** Default: the sidecar's own default (`default`). */
  readonly key?: string | undefined;
}

/** PILOTFISH_FLEET (a value, or from the Secret), PILOTFISH_FLEET_KEY, and POD_IP for the address the sidecar reports. */
function fleetEnv(f: FleetSettings | undefined): EnvVar[] {
  if (!f || (!f.url && !f.secret)) return [];
  return [
    f.secret ? { name: 'PILOTFISH_FLEET', valueFrom: { secretKeyRef: { name: f.secret.name, key: f.secret.key } } } : { name: 'PILOTFISH_FLEET', value: f.url! },
    ...(f.key ? [{ name: 'PILOTFISH_FLEET_KEY', value: f.key }] : []),
    { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
  ];
}

/**
 * Seconds Kubernetes waits after SIGTERM before SIGKILL: the drain timeout plus a margin for the
 * process to close its sockets and flush telemetry, so a full drain is never cut short.
 */
export function terminationGraceSeconds(drainTimeoutMs: number): number {
  return Math.ceil(drainTimeoutMs / 1000) + 5;
}

const telemetryProbe = (path: string, periodSeconds: number, failureThreshold: number): Probe => ({
  httpGet: { path, port: PORTS.telemetry }, periodSeconds, timeoutSeconds: 1, failureThreshold,
});

/**
 * Where the sidecar learns its place (`PILOTFISH_LOCALITY`): the pod's `pilotfish.io/locality`
 * annotation when it has one, else the pod's topology labels through the downward API — empty
 * (`/`, "unknown": the policy's `locality` then applies) where the cluster does not label pods.
 */
export function localityEnv(annotation: string | undefined): EnvVar[] {
  if (annotation !== undefined) return [{ name: 'PILOTFISH_LOCALITY', value: annotation }];
  const label = (key: string): { fieldRef: { fieldPath: string } } => ({ fieldRef: { fieldPath: `metadata.labels['${key}']` } });
  return [
    { name: 'PILOTFISH_REGION', valueFrom: label(TOPOLOGY_LABELS.region) },
    { name: 'PILOTFISH_ZONE', valueFrom: label(TOPOLOGY_LABELS.zone) },
    // Kubernetes expands $(VAR) from variables defined earlier in the list.
    { name: 'PILOTFISH_LOCALITY', value: '$(PILOTFISH_REGION)/$(PILOTFISH_ZONE)' },
  ];
}

/** `locality`: the pod's `pilotfish.io/locality` annotation, if any. */
export function sidecarContainer(s: SidecarSettings, locality?: string): Container {
  return {
    name: SIDECAR_NAME,
    image: s.image,
    imagePullPolicy: 'IfNotPresent',
    args: ['--drain-timeout', formatDuration(s.drainTimeoutMs)],
    ...(s.nativeSidecar ? { restartPolicy: 'Always' as const } : {}),
    env: [{ name: 'PILOTFISH_POLICY', value: POLICY_FILE }, ...localityEnv(locality), ...fleetEnv(s.fleet)],
    ports: [
      { name: 'pf-outbound', containerPort: PORTS.outbound, protocol: 'TCP' },
      { name: 'pf-inbound', containerPort: PORTS.inbound, protocol: 'TCP' },
      { name: 'pf-metrics', containerPort: PORTS.telemetry, protocol: 'TCP' },
    ],
    // A native sidecar's startup probe holds the app containers back until the proxy is ready, so the
    // app's first outbound calls do not hit an empty 15001.
    ...(s.nativeSidecar ? { startupProbe: telemetryProbe('/healthz/ready', 1, 60) } : {}),
    readinessProbe: telemetryProbe('/healthz/ready', 2, 3),
    livenessProbe: telemetryProbe('/healthz/live', 10, 3),
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    securityContext: {
      runAsUser: PROXY_UID, runAsGroup: PROXY_UID, runAsNonRoot: true, readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [
      { name: POLICY_VOLUME, mountPath: POLICY_DIR, readOnly: true },
      ...(s.mtls ? [{ name: CERTS_VOLUME, mountPath: CERTS_DIR, readOnly: true }] : []),
    ],
  };
}

/** `captureArgs` are the extra `pilotfish iptables` flags from the pod's annotations. */
export function initContainer(s: SidecarSettings, captureArgs: readonly string[]): Container {
  return {
    name: INIT_NAME,
    image: s.initImage,
    imagePullPolicy: 'IfNotPresent',
    args: [
      '--proxy-uid', String(PROXY_UID), '--inbound-port', String(PORTS.inbound), '--outbound-port', String(PORTS.outbound),
      ...captureArgs,
    ],
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
    // iptables needs root and NET_ADMIN (NET_RAW for the legacy backend) in the pod's network
    // namespace; everything else is dropped, and the container exits once the rules are in.
    securityContext: {
      runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

export function policyVolume(s: SidecarSettings): ConfigMapVolume {
  return { name: POLICY_VOLUME, configMap: { name: s.policyConfigMap } };
}

const CAPTURE_ANNOTATIONS: ReadonlyArray<readonly [string, string, (text: string) => Parsed<unknown>]> = [
  [ANNOTATION.includeInboundPorts, '--include-inbound-ports', parsePortSelection],
  [ANNOTATION.excludeInboundPorts, '--exclude-inbound-ports', parsePortList],
  [ANNOTATION.excludeOutboundPorts, '--exclude-outbound-ports', parsePortList],
  [ANNOTATION.excludeOutboundCidrs, '--exclude-outbound-cidrs', parseCidrList],
  [ANNOTATION.includeOutboundCidrs, '--include-outbound-cidrs', parseCidrSelection],
];

/**
 * The init container's extra flags from the pod's capture annotations, checked now: a bad value
 * fails the injection with its position instead of crash-looping the init container later.
 */
export function captureArgs(annotations: ReadonlyMap<string, string>): Parsed<string[]> & { annotation?: string } {
  const args: string[] = [];
  for (const [annotation, flag, parse] of CAPTURE_ANNOTATIONS) {
    const text = annotations.get(annotation);
    if (text === undefined) continue;
    const r = parse(text);
    if (!r.ok) return { ok: false, error: `annotation ${annotation}: ${r.error}`, annotation };
    args.push(flag, canonical(r.value));
  }
  return { ok: true, value: args };
}

function canonical(value: unknown): string {
  if (!Array.isArray(value)) return String(value);
  return (value as Array<number | Cidr>).map((v) => (typeof v === 'number' ? String(v) : v.text)).join(',');
}
