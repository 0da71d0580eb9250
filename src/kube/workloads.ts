/**
 * Where each workload kind keeps its pod template. The injector edits only these kinds; every
 * other object (Services, ConfigMaps, CRDs…) passes through untouched.
 */
import { isMap, isSeq, type YAMLMap } from 'yaml';

interface TemplateLocation {
  /** apiVersions the kind is known under (`apps/v1`, older `extensions/v1beta1`…). */
  readonly apiVersion: RegExp;
  /** Keys from the object to its pod template (metadata + spec); empty for a bare Pod. */
  readonly path: readonly string[];
  /** Runs to completion: a classic sidecar would keep it from ever finishing. */
  readonly completes: boolean;
}

const APPS = /^(apps|extensions)\/v1(beta\d)?$/;
const BATCH = /^batch\/v\d+(beta\d)?$/;

const LOCATIONS: Readonly<Record<string, TemplateLocation>> = {
  Pod: { apiVersion: /^v1$/, path: [], completes: false },
  Deployment: { apiVersion: APPS, path: ['spec', 'template'], completes: false },
  StatefulSet: { apiVersion: APPS, path: ['spec', 'template'], completes: false },
  DaemonSet: { apiVersion: APPS, path: ['spec', 'template'], completes: false },
  ReplicaSet: { apiVersion: APPS, path: ['spec', 'template'], completes: false },
  Job: { apiVersion: BATCH, path: ['spec', 'template'], completes: true },
  CronJob: { apiVersion: BATCH, path: ['spec', 'jobTemplate', 'spec', 'template'], completes: true },
};

export const WORKLOAD_KINDS: readonly string[] = Object.keys(LOCATIONS);

export interface PodTarget {
  /** `Deployment/web`, for messages. */
  readonly label: string;
  /** The workload (or Pod) object: its own annotations may opt out. */
  readonly object: YAMLMap;
  /** The pod template (a map with metadata and spec); undefined when the object lacks one. */
  readonly template: YAMLMap | undefined;
  /** Dotted path of the template, for messages. */
  readonly templatePath: string;
  readonly completes: boolean;
}

/** A scalar string value of `map[key]`, or undefined. */
export function stringAt(map: YAMLMap, key: string): string | undefined {
  const v = map.get(key);
  return typeof v === 'string' ? v : undefined;
}

/**
 * The pod templates in one document's root: one per workload, several for a `kind: List`
 * (as `kubectl get -o yaml` prints), none for anything else.
 */
export function findPodTargets(root: unknown): PodTarget[] {
  if (!isMap(root)) return [];
  const kind = stringAt(root, 'kind');
  const items = root.get('items');
  if (kind !== undefined && kind.endsWith('List') && isSeq(items)) return items.items.flatMap((item) => findPodTargets(item));
  const location = kind === undefined ? undefined : LOCATIONS[kind];
  if (!location || !location.apiVersion.test(stringAt(root, 'apiVersion') ?? '')) return [];
  let node: unknown = root;
  for (const key of location.path) node = isMap(node) ? node.get(key) : undefined;
  const name = (() => { const m = root.get('metadata'); return isMap(m) ? stringAt(m, 'name') ?? stringAt(m, 'generateName') : undefined; })();
  return [{
    label: `${kind}/${name ?? '(unnamed)'}`,
    object: root,
    template: isMap(node) ? node : undefined,
    templatePath: location.path.join('.') || '(root)',
    completes: location.completes,
  }];
}
