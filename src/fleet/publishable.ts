/**
 * What a publisher writes for a policy text: the text (exactly as written: sidecars' diagnostics
 * point at its lines, the history shows it), its hash, and — when the text is a valid policy — the
 * document it parses to as `data`, so each sidecar checks that document instead of parsing YAML
 * again (most of a flip's CPU). A sidecar still validates what it applies (schema and references,
 * `parsePolicy` with the value) and falls back to the text for anything it has to report.
 */
import { isDeepStrictEqual } from 'node:util';
import { parsePolicy, textHash, type LoadResult } from '../config/index.js';
import type { PublishInput } from './store.js';

export type PolicyPart = Pick<PublishInput, 'policy' | 'hash' | 'data'>;

/**
 * `text` with its hash and, if it validates (as a fleet's policy), its `data`. `loaded` is the
 * text's parse when the caller has it already. A value JSON would change (`-0`, a non-finite
 * number) is left out: the sidecars then parse the text, which is always right.
 */
export function publishable(text: string, loaded: LoadResult = parsePolicy(text, 'policy', { fleet: true })): PolicyPart {
  const part = { policy: text, hash: textHash(text) };
  if (!loaded.ok || loaded.source !== text) return part;
  const json = JSON.stringify(loaded.value);
  return json !== undefined && isDeepStrictEqual(JSON.parse(json), loaded.value) ? { ...part, data: loaded.value } : part;
}
