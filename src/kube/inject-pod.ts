/**
 * Injects one pod template in place: the sidecar and init containers, the policy volume, the grace
 * period, annotations and a label. Decides first (opt-out, already injected, host network, bad
 * shapes), then edits, so a skipped template is left byte-for-byte as it was.
 */
import { isNode, isSeq, type Document, type Node, type YAMLMap, type YAMLSeq } from 'yaml';
import {
  ANNOTATION, CERTS_VOLUME, INIT_NAME, INJECTED_LABEL, POLICY_VOLUME, SCRAPE_ANNOTATIONS, SIDECAR_NAME,
} from './names.js';
import {
  captureArgs, certsVolume, initContainer, policyVolume, sidecarContainer, terminationGraceSeconds, type SidecarSettings,
} from './sidecar-spec.js';
import type { PodTarget } from './workloads.js';
import { parseLocality } from '../routing/locality/locality.js';
import { EditError, ensureMap, ensureSeq, mapAt, names, setIfAbsent, stringEntries } from './yaml-edit.js';

export type PodOutcome =
  | { readonly status: 'injected'; readonly notes: readonly string[] }
  /** `quiet`: nothing worth telling (already injected, opted out). */
  | { readonly status: 'skipped'; readonly reason: string; readonly quiet: boolean }
  | { readonly status: 'error'; readonly message: string; readonly node: Node | undefined };

export function injectPod(doc: Document, target: PodTarget, s: SidecarSettings): PodOutcome {
  try {
    const plan = decide(target);
    if ('status' in plan) return plan;
    edit(doc, plan, s);
    const notes = target.completes && !s.nativeSidecar
      ? [`${target.label}: a classic sidecar keeps running after the job's containers finish, so the job never completes; use --native-sidecar (Kubernetes >= 1.29)`]
      : [];
    return { status: 'injected', notes };
  } catch (err) {
    if (err instanceof EditError) return { status: 'error', message: `${target.label}: ${err.message}`, node: err.node };
    throw err;
  }
}

/** What `edit` needs, once `decide` found the template injectable. */
interface Plan {
  readonly template: YAMLMap;
  readonly spec: YAMLMap;
  readonly containers: YAMLSeq;
  /** Extra `pilotfish iptables` flags from the capture annotations. */
  readonly captureArgs: readonly string[];
  /** The pod's `pilotfish.io/locality`, checked. */
  readonly locality: string | undefined;
}

/** Reads only: whether and what to inject. */
function decide(target: PodTarget): PodOutcome | Plan {
  const fail = (message: string, node: Node | undefined): PodOutcome => ({ status: 'error', message: `${target.label}: ${message}`, node });
  const template = target.template;
  if (!template) return fail(`no pod template at ${target.templatePath}`, target.object);
  const meta = mapAt(template, 'metadata');
  const annotations = stringEntries(mapAt(meta, 'annotations'));
  const optOut = [stringEntries(mapAt(mapAt(target.object, 'metadata'), 'annotations')), annotations]
    .some((a) => a.get(ANNOTATION.inject)?.toLowerCase() === 'false');
  if (optOut) return { status: 'skipped', reason: `${ANNOTATION.inject} is "false"`, quiet: true };

  const spec = mapAt(template, 'spec');
  if (!spec) return fail(`no pod spec at ${target.templatePath}.spec`, template);
  const containers = spec.get('containers', true);
  if (!isSeq(containers) || containers.items.length === 0) {
    return fail('the pod spec has no containers list', isNode(containers) ? containers : spec);
  }
  const present = [...names(containers), ...names(spec.get('initContainers'))];
  if (annotations.has(ANNOTATION.status) || present.includes(SIDECAR_NAME) || present.includes(INIT_NAME)) {
    return { status: 'skipped', reason: 'already injected', quiet: true };
  }
  if (spec.get('hostNetwork') === true) {
    return {
      status: 'skipped', quiet: false,
      reason: "hostNetwork pods share the node's network namespace, where capture rules would redirect the node's own traffic",
    };
  }
  const args = captureArgs(annotations);
  if (!args.ok) {
    const map = mapAt(meta, 'annotations');
    const value = args.annotation === undefined ? undefined : map?.get(args.annotation, true);
    return fail(args.error, isNode(value) ? value : map);
  }
  const locality = annotations.get(ANNOTATION.locality);
  const place = locality === undefined ? undefined : parseLocality(locality);
  if (place && !place.ok) {
    const value = mapAt(meta, 'annotations')?.get(ANNOTATION.locality, true);
    return fail(`annotation ${ANNOTATION.locality}: ${place.error}`, isNode(value) ? value : undefined);
  }
  return { template, spec, containers, captureArgs: args.value, locality };
}

function edit(doc: Document, plan: Plan, s: SidecarSettings): void {
  const { spec, containers } = plan;
  markTemplate(doc, plan.template, names(containers)[0]);
  const grace = terminationGraceSeconds(s.drainTimeoutMs);
  const current = spec.get('terminationGracePeriodSeconds');
  if (typeof current !== 'number' || current < grace) spec.set('terminationGracePeriodSeconds', grace);

  const inits = ensureSeq(doc, spec, 'initContainers', 'containers');
  if (s.nativeSidecar) {
    // Capture first, then the proxy, then the user's own init containers: they get a working mesh.
    inits.items.unshift(doc.createNode(initContainer(s, plan.captureArgs)), doc.createNode(sidecarContainer(s, plan.locality)));
  } else {
    // Last: the user's init containers run before capture, when no proxy could answer them yet.
    inits.items.push(doc.createNode(initContainer(s, plan.captureArgs)));
    containers.items.push(doc.createNode(sidecarContainer(s, plan.locality)));
  }
  const volumes = ensureSeq(doc, spec, 'volumes');
  if (!names(volumes).includes(POLICY_VOLUME)) volumes.items.push(doc.createNode(policyVolume(s)));
  if (s.mtls && !names(volumes).includes(CERTS_VOLUME)) {
    const sa = spec.get('serviceAccountName');
    volumes.items.push(doc.createNode(certsVolume(s.mtls, typeof sa === 'string' && sa !== '' ? sa : undefined)));
  }
}

/** Annotations and label on the pod template; values the user already set are kept. */
function markTemplate(doc: Document, template: YAMLMap, appName: string | undefined): void {
  const meta = ensureMap(doc, template, 'metadata', 0);
  const annotations = ensureMap(doc, meta, 'annotations');
  annotations.set(ANNOTATION.status, 'injected');
  for (const [key, value] of Object.entries(SCRAPE_ANNOTATIONS)) setIfAbsent(doc, annotations, key, value);
  if (appName !== undefined) setIfAbsent(doc, annotations, ANNOTATION.defaultContainer, appName);
  const labels = ensureMap(doc, meta, 'labels', 'annotations');
  labels.set(INJECTED_LABEL, 'true');
}
