/**
 * The few Kubernetes API shapes the injector writes, typed so the compiler rejects a misspelt field
 * in the containers we generate (the API server would silently drop it, or refuse it under strict
 * field validation). Only the fields we use; tests validate the output against the full schemas.
 */

export interface HttpGetAction {
  readonly path: string;
  readonly port: number | string;
}

export interface Probe {
  readonly httpGet: HttpGetAction;
  readonly initialDelaySeconds?: number;
  readonly periodSeconds?: number;
  readonly timeoutSeconds?: number;
  readonly failureThreshold?: number;
}

export interface ContainerPort {
  readonly name: string;
  readonly containerPort: number;
  readonly protocol: 'TCP';
}

export type EnvVar =
  | { readonly name: string; readonly value: string }
  /** The downward API (a field of the pod, e.g. `metadata.labels['topology.kubernetes.io/zone']`), or a Secret's key. */
  | { readonly name: string; readonly valueFrom: { readonly fieldRef: { readonly fieldPath: string } } | { readonly secretKeyRef: { readonly name: string; readonly key: string } } };

export interface ResourceRequirements {
  readonly requests: Readonly<Record<'cpu' | 'memory', string>>;
  readonly limits: Readonly<Record<'cpu' | 'memory', string>>;
}

export interface SecurityContext {
  readonly runAsUser: number;
  readonly runAsGroup: number;
  readonly runAsNonRoot: boolean;
  readonly readOnlyRootFilesystem: boolean;
  readonly allowPrivilegeEscalation: boolean;
  readonly capabilities: { readonly add?: readonly string[]; readonly drop: readonly string[] };
  readonly seccompProfile: { readonly type: 'RuntimeDefault' };
}

export interface VolumeMount {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly: boolean;
}

export interface Container {
  readonly name: string;
  readonly image: string;
  readonly imagePullPolicy: 'IfNotPresent' | 'Always' | 'Never';
  readonly args: readonly string[];
  /** `Always` on an init container makes it a native sidecar (Kubernetes ≥ 1.29). */
  readonly restartPolicy?: 'Always';
  readonly env?: readonly EnvVar[];
  readonly ports?: readonly ContainerPort[];
  readonly startupProbe?: Probe;
  readonly readinessProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly resources: ResourceRequirements;
  readonly securityContext: SecurityContext;
  readonly volumeMounts?: readonly VolumeMount[];
}

export interface ConfigMapVolume {
  readonly name: string;
  readonly configMap: { readonly name: string };
}

export interface SecretVolume {
  readonly name: string;
  readonly secret: { readonly secretName: string };
}

export interface CsiVolume {
  readonly name: string;
  readonly csi: { readonly driver: string; readonly readOnly: boolean; readonly volumeAttributes?: Readonly<Record<string, string>> };
}
