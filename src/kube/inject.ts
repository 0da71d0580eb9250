/**
 * `pilotfish inject` on text: multi-document YAML in, the same YAML out with every workload's pod
 * template injected. A document with nothing to inject is copied byte for byte; an edited one keeps
 * its comments, key order and layout as far as the yaml library allows.
 */
import { LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import { injectPod } from './inject-pod.js';
import type { SidecarSettings } from './sidecar-spec.js';
import { matchingStyle } from './yaml-style.js';
import { findPodTargets } from './workloads.js';

/** A message tied to a place in the input (1-based; 0 when there is no place). */
export interface Diagnostic {
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

export interface InjectResult {
  /** False when there are errors; then `output` is empty. */
  readonly ok: boolean;
  readonly output: string;
  /** `Kind/name` of each injected workload. */
  readonly injected: readonly string[];
  /** Skipped workloads and advice (not errors). */
  readonly notes: readonly Diagnostic[];
  readonly errors: readonly Diagnostic[];
}

export function injectManifests(text: string, settings: SidecarSettings): InjectResult {
  const lineCounter = new LineCounter();
  // YAML 1.1 is what Kubernetes reads (`on` is a boolean, 0644 is octal), so values keep their meaning.
  const docs = parseAllDocuments(text, { version: '1.1', lineCounter });
  const at = (offset: number | undefined): { line: number; col: number } =>
    offset === undefined ? { line: 0, col: 0 } : lineCounter.linePos(offset);
  const nodeAt = (node: Node | undefined): { line: number; col: number } => at(node?.range?.[0]);

  const errors: Diagnostic[] = [];
  for (const doc of docs) {
    for (const e of doc.errors) {
      errors.push({ line: e.linePos?.[0].line ?? 0, col: e.linePos?.[0].col ?? 0, message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:$/, '') });
    }
  }
  if (errors.length > 0) return { ok: false, output: '', injected: [], notes: [], errors };
  // Empty, or comments only: nothing to edit, and the comments are the user's.
  if (docs.length === 0) return { ok: true, output: text, injected: [], notes: [], errors };

  const injected: string[] = [];
  const notes: Diagnostic[] = [];
  const pieces: string[] = [];
  docs.forEach((doc, i) => {
    const start = i === 0 ? 0 : docs[i - 1]!.range[2];
    const end = i === docs.length - 1 ? text.length : doc.range[2];
    const original = text.slice(start, end);
    const targets = findPodTargets(doc.contents);
    if (targets.length === 0) { pieces.push(original); return; }
    const style = matchingStyle(doc as Document, original);
    let edited = false;
    for (const target of targets) {
      const outcome = injectPod(doc as Document, target, settings);
      if (outcome.status === 'error') errors.push({ ...nodeAt(outcome.node), message: outcome.message });
      else if (outcome.status === 'skipped') {
        if (!outcome.quiet) notes.push({ ...nodeAt(target.object), message: `${target.label}: skipped: ${outcome.reason}` });
      } else {
        edited = true;
        injected.push(target.label);
        for (const message of outcome.notes) notes.push({ ...nodeAt(target.object), message });
      }
    }
    // Text after the last document's node (a trailing comment) is not part of its rendering.
    pieces.push(edited ? doc.toString(style) + text.slice(doc.range[2], end) : original);
  });
  if (errors.length > 0) return { ok: false, output: '', injected: [], notes, errors };
  return { ok: true, output: pieces.join(''), injected, notes, errors };
}

export function formatDiagnostic(file: string, d: Diagnostic): string {
  return d.line > 0 ? `${file}:${d.line}:${d.col}: ${d.message}` : `${file}: ${d.message}`;
}
