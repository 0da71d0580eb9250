/**
 * Validates Kubernetes objects against the API's OpenAPI schemas, as compiled by kubernetes-models
 * (and its Prometheus Operator CRD models for PodMonitor). A kind the table does not know fails the
 * check rather than passing unchecked.
 */
import { DaemonSet, Deployment, ReplicaSet, StatefulSet } from 'kubernetes-models/apps/v1';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { ConfigMap, Pod, Service, ServiceAccount } from 'kubernetes-models/v1';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { parseAllDocuments } from 'yaml';

interface Validatable { validate(): void }
type ModelClass = new (data: any) => Validatable;

const MODELS: Readonly<Record<string, ModelClass>> = {
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/DaemonSet': DaemonSet,
  'apps/v1/ReplicaSet': ReplicaSet,
  'batch/v1/Job': Job,
  'batch/v1/CronJob': CronJob,
  'v1/Pod': Pod,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/ServiceAccount': ServiceAccount,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
};

/** Throws with the schema's message (e.g. `data/spec/template/spec/containers/1/ports/0/containerPort must be integer`). */
export function validateObject(obj: Record<string, unknown>): void {
  const key = `${String(obj.apiVersion)}/${String(obj.kind)}`;
  const Model = MODELS[key];
  if (!Model) throw new Error(`no schema for ${key}`);
  try {
    new Model(obj).validate();
  } catch (err) {
    const name = (obj.metadata as { name?: string } | undefined)?.name ?? '(unnamed)';
    throw new Error(`${key} ${name}: ${(err as Error).message}`);
  }
}

/** Every document of a multi-document YAML text, read as Kubernetes reads it (YAML 1.1). */
export function parseObjects(text: string): Array<Record<string, any>> {
  return parseAllDocuments(text, { version: '1.1' })
    .map((d) => {
      if (d.errors.length > 0) throw d.errors[0];
      return d.toJS() as Record<string, any> | null;
    })
    .filter((o): o is Record<string, any> => o !== null);
}
