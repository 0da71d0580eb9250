/**
 * Cross-reference checks that need the whole suite in view: endpoints naming fake upstreams that
 * exist, actions a `target` environment cannot perform (the runner owns no process or socket there),
 * `share.by` keys that can be answered, and policy placeholders.
 */
import type { KeyPath } from '../config/positions.js';
import { ACTION_KINDS, type Action } from './action-schema.js';
import type { ExpectBlock } from './expect-schema.js';
import { checkPlaceholdersIn } from './placeholders.js';
import type { EndpointRef } from './schema-primitives.js';
import type { Suite } from './suite-schema.js';

export interface SuiteProblem {
  readonly path: KeyPath;
  readonly message: string;
}

const LOCAL_ONLY = ['toxic', 'kill', 'restart', 'degrade', 'policy', 'signal', 'publish', 'rollback'] as const;
/** What a fleet environment's several sidecars cannot do the single-sidecar way. */
const NOT_IN_FLEET = {
  policy: 'the fleet\'s policy wins over the file: use "publish" in a fleet environment',
  signal: 'signals go to one sidecar process: not in a fleet environment',
} as const;

export function checkSuiteRefs(suite: Suite, raw: unknown): SuiteProblem[] {
  const problems: SuiteProblem[] = [];
  const local = suite.environment.local;
  const target = suite.environment.target;
  const replicas = Object.fromEntries(Object.entries(local?.upstreams ?? {}).map(([n, u]) => [n, u.replicas]));
  const labelKeys = new Set(Object.values(local?.upstreams ?? {}).flatMap((u) => Object.keys(u.labels)));

  const checkRef = (ref: EndpointRef, path: KeyPath): void => {
    const count = replicas[ref.upstream];
    if (count === undefined) problems.push({ path, message: `no fake upstream "${ref.upstream}" in environment.local.upstreams` });
    else if (ref.index !== undefined && ref.index >= count) problems.push({ path, message: `"${ref.upstream}" has ${count} replica(s), indexes 0–${count - 1}` });
  };
  const checkAction = (a: Action, path: KeyPath): void => {
    if (target) {
      const kind = LOCAL_ONLY.find((k) => a[k] !== undefined);
      if (kind) problems.push({ path: [...path, kind], message: `"${kind}" needs environment.local (the runner owns no process or socket of a target)` });
      if (a.fault && !target.admin) problems.push({ path: [...path, 'fault'], message: 'runtime faults need environment.target.admin' });
      return;
    }
    if (!local?.fleet) {
      for (const kind of ['publish', 'rollback'] as const) {
        if (a[kind] !== undefined) problems.push({ path: [...path, kind], message: `"${kind}" needs environment.local.fleet (a fleet of sidecars with its own redis-server)` });
      }
    } else {
      for (const [kind, message] of Object.entries(NOT_IN_FLEET)) if (a[kind as keyof typeof NOT_IN_FLEET] !== undefined) problems.push({ path: [...path, kind], message });
    }
    if (a.publish?.inline) {
      for (const p of checkPlaceholdersIn(a.publish.inline, replicas, [...path, 'publish', 'inline'])) problems.push(p);
    }
    for (const ref of [a.kill, a.restart, a.toxic?.endpoint, a.degrade?.endpoint]) {
      if (ref) checkRef(ref, [...path, a.kill === ref ? 'kill' : a.restart === ref ? 'restart' : a.toxic ? 'toxic' : 'degrade']);
    }
    if (a.policy?.inline) {
      for (const p of checkPlaceholdersIn(a.policy.inline, replicas, [...path, 'policy', 'inline'])) problems.push(p);
    }
  };
  const checkExpect = (e: ExpectBlock, path: KeyPath, injected?: ReadonlySet<string>): void => {
    for (const anchor of ['after', 'before'] as const) {
      const kind = e.window?.[anchor];
      if (kind === undefined) continue;
      if (!injected) problems.push({ path: [...path, 'window', anchor], message: `window.${anchor} names an injection: only in an experiment's expect` });
      else if (!injected.has(kind)) problems.push({ path: [...path, 'window', anchor], message: `window.${anchor}: this experiment injects no "${kind}"` });
    }
    const by = e.share?.by;
    if (by !== undefined && by !== 'instance' && by !== 'upstream' && !(local && labelKeys.has(by))) {
      problems.push({ path: [...path, 'share', 'by'], message: `share.by must be "instance", "upstream"${local ? ' or a label of a fake upstream' : ''}, got "${by}"` });
    }
    if (target && e.metrics && !target.metrics) problems.push({ path: [...path, 'metrics'], message: 'metric hypotheses need environment.target.metrics' });
    if (target && e.sidecarExit) problems.push({ path: [...path, 'sidecarExit'], message: 'sidecarExit needs environment.local' });
    if (local?.fleet && e.sidecarExit) problems.push({ path: [...path, 'sidecarExit'], message: 'sidecarExit watches one sidecar process: not in a fleet environment' });
  };

  if (local?.policy) problems.push(...checkPlaceholdersIn(local.policy, replicas, ['environment', 'local', 'policy']));
  suite.steadyState?.probes.forEach((p, i) => {
    const path = ['steadyState', 'probes', i];
    if (p.load) checkExpect(p.tolerance as ExpectBlock, [...path, 'tolerance']);
    if (p.metric && target && !target.metrics) problems.push({ path: [...path, 'metric'], message: 'metric probes need environment.target.metrics' });
  });
  suite.experiments.forEach((x, i) => {
    const path = ['experiments', i];
    x.inject.forEach((a, j) => checkAction(a, [...path, 'inject', j]));
    x.rollback.forEach((a, j) => checkAction(a, [...path, 'rollback', j]));
    const listed = Array.isArray(at(raw, [...path, 'expect']));
    const injected = new Set(x.inject.flatMap((a) => ACTION_KINDS.filter((k) => a[k] !== undefined)));
    x.expect.forEach((e, j) => checkExpect(e, listed ? [...path, 'expect', j] : [...path, 'expect'], injected));
  });
  return problems;
}

function at(value: unknown, path: KeyPath): unknown {
  let v = value;
  for (const seg of path) v = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[seg] : undefined;
  return v;
}
