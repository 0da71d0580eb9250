/**
 * `createMesh({ policy })` takes a file path, policy text or a policy object; the data plane takes a
 * file or a named text. A string with a line break, or one starting with `{`, is text; any other
 * string is a path. An object is serialised as JSON (its diagnostics then point into that JSON).
 */
import type { PolicyInput } from '../dataplane/index.js';

/** A file path, YAML/JSON text, or a policy object (SPEC §4). */
export type MeshPolicy = string | object;

export function policyText(policy: string | object): { text: string; name: string } {
  if (typeof policy === 'string') return { text: policy, name: '(policy text)' };
  return { text: JSON.stringify(policy, null, 2), name: '(policy object)' };
}

export async function policyInput(policy: MeshPolicy): Promise<PolicyInput> {
  if (typeof policy === 'string' && !policy.includes('\n') && !policy.trimStart().startsWith('{')) return { file: policy };
  if (policy === null || (typeof policy !== 'string' && typeof policy !== 'object')) throw new TypeError('pilotfish mesh: policy must be a file path, policy text or an object');
  return policyText(policy);
}
