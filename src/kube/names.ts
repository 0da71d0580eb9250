/**
 * The names users and tools see on an injected pod: container and volume names, annotations and
 * labels, ports. Fixed here so the injector, the shipped manifests and the tests agree.
 */
import { readFileSync } from 'node:fs';

export const SIDECAR_NAME = 'pilotfish';
export const INIT_NAME = 'pilotfish-init';
export const POLICY_VOLUME = 'pilotfish-policy';
export const DEFAULT_POLICY_CONFIGMAP = 'pilotfish-policy';
/** The whole ConfigMap is mounted here (not a subPath: only a directory mount sees updates). */
export const POLICY_DIR = '/etc/pilotfish';
export const POLICY_FILE = `${POLICY_DIR}/policy.yaml`;
/** The workload certificate volume (`--mtls`), mounted where the policy's `identity` looks by default (SPEC §12). */
export const CERTS_VOLUME = 'pilotfish-certs';
export const CERTS_DIR = `${POLICY_DIR}/certs`;
/** cert-manager's csi-driver-spiffe: a per-pod SPIFFE certificate in cert-manager's Secret layout, renewed in place. */
export const SPIFFE_CSI_DRIVER = 'spiffe.csi.cert-manager.io';
export const PROXY_UID = 1337;
export const PORTS = { outbound: 15001, inbound: 15006, telemetry: 15020 } as const;

export const ANNOTATION = {
  /** `"false"` on a workload or its pod template: leave it alone. */
  inject: 'pilotfish.io/inject',
  /** Set on injected pod templates; its presence makes injection a no-op. */
  status: 'pilotfish.io/status',
  includeInboundPorts: 'pilotfish.io/include-inbound-ports',
  excludeInboundPorts: 'pilotfish.io/exclude-inbound-ports',
  excludeOutboundPorts: 'pilotfish.io/exclude-outbound-ports',
  excludeOutboundCidrs: 'pilotfish.io/exclude-outbound-cidrs',
  includeOutboundCidrs: 'pilotfish.io/include-outbound-cidrs',
  /**
   * `region/zone` of the pod (for locality-aware balancing), for pods pinned to one zone; it wins
   * over the topology labels read through the downward API.
   */
  locality: 'pilotfish.io/locality',
  /** kubectl logs/exec pick this container when none is named: keep that the app, not the sidecar. */
  defaultContainer: 'kubectl.kubernetes.io/default-container',
} as const;

/**
 * Kubernetes' well-known topology labels. Nodes carry them; with the PodTopologyLabels admission
 * plugin (KEP-4742: alpha in 1.33, beta in 1.35) the pod gets its node's at binding, which the
 * downward API then hands the sidecar.
 */
export const TOPOLOGY_LABELS = { region: 'topology.kubernetes.io/region', zone: 'topology.kubernetes.io/zone' } as const;

/** Label on injected pods, for a PodMonitor's selector. */
export const INJECTED_LABEL = 'pilotfish.io/injected';

/** The conventional Prometheus scrape annotations, pointing at the sidecar's telemetry port. */
export const SCRAPE_ANNOTATIONS: Readonly<Record<string, string>> = {
  'prometheus.io/scrape': 'true',
  'prometheus.io/port': String(PORTS.telemetry),
  'prometheus.io/path': '/metrics',
};

/** This package's version: the default image tag, so a CLI injects the image of its own release. */
export function packageVersion(): string {
  // Two levels up from both src/kube and dist/kube.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

/** `pilotfish:<version>`, or `$PILOTFISH_IMAGE`. */
export function defaultImage(env: NodeJS.ProcessEnv = process.env): string {
  return env.PILOTFISH_IMAGE ?? `pilotfish:${packageVersion()}`;
}

/**
 * The init image that goes with a sidecar image: `-init` added to the repository name
 * (`reg.example/team/pilotfish:1.2` → `reg.example/team/pilotfish-init:1.2`). A digest names one
 * image only, so there is no counterpart to derive: undefined, and the caller asks for `--init-image`.
 */
export function initImageFor(image: string): string | undefined {
  if (image.includes('@')) return undefined;
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  const tagAt = colon > slash ? colon : image.length;
  return `${image.slice(0, tagAt)}-init${image.slice(tagAt)}`;
}
