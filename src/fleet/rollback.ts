/**
 * Rollback (SPEC §9): republish an earlier generation — `to`, else the one before the current — as
 * a new generation, so the number still only grows and the history tells what happened. Without
 * `to` it toggles between the last two, like `kubectl rollout undo`. The publish is compare-and-set
 * against the generation read, so a publish landing in between is never overwritten silently.
 * `pilotfish rollback` and the chaos runner's `rollback` action both come through here.
 */
import { formatDiagnostic, parsePolicy } from '../config/index.js';
import { publishable } from './publishable.js';
import type { FleetStore, Generation } from './store.js';

export type RollbackOutcome =
  | { readonly kind: 'published'; readonly generation: Generation }
  /** Someone published between the read and the write: nothing was published. */
  | { readonly kind: 'conflict'; readonly from: number; readonly now: number }
  /** Nothing to roll back to, or it no longer validates: `messages` say why. */
  | { readonly kind: 'refused'; readonly messages: readonly string[] };

export async function rollback(store: FleetStore, to: number | undefined, publishedBy: string): Promise<RollbackOutcome> {
  const history = await store.history();
  const current = history[0];
  if (!current) return refused(`fleet ${store.fleet} has no generation: nothing to roll back`);
  const chosen = pick(history, to);
  if (typeof chosen === 'string') return refused(chosen);
  // It was valid when it was published; it must still be, or every sidecar would refuse it.
  const checked = parsePolicy(chosen.policy, `fleet:${store.fleet}@${chosen.generation}`, { fleet: true });
  if (!checked.ok) return refused(...checked.errors.map(formatDiagnostic), `generation ${chosen.generation} no longer validates: nothing published`);
  const r = await store.publish({
    ...publishable(chosen.policy, checked), hash: chosen.hash, publishedBy, message: `rollback to generation ${chosen.generation}`,
    rollbackOf: chosen.generation, expectGeneration: current.generation,
  });
  return r.ok ? { kind: 'published', generation: r.generation } : { kind: 'conflict', from: current.generation, now: r.current.generation };
}

function pick(history: readonly Generation[], to: number | undefined): Generation | string {
  const current = history[0]!;
  if (to === undefined) return history[1] ?? `generation ${current.generation} is the only one in the history: nothing to roll back to`;
  if (to === current.generation) return `generation ${to} is the current one`;
  const found = history.find((g) => g.generation === to);
  if (found) return found;
  return `generation ${to} is not in the history (it keeps ${history[history.length - 1]!.generation}–${current.generation})`;
}

function refused(...messages: string[]): RollbackOutcome {
  return { kind: 'refused', messages };
}
