/**
 * Never backwards: what a sidecar does with the store's position, given what it serves. Pure.
 *
 * A generation number only grows within one store. But a store can be lost — Redis restarted
 * without persistence, flushed, failed over to a replica that lagged, restored from an old backup
 * — and then its numbers mean nothing next to the ones a sidecar serves. So each store has an
 * **epoch**: a random id the first publish into an empty store writes, and every generation
 * carries. The position of a sidecar is (epoch, generation):
 *
 * - same epoch, higher generation → apply it;
 * - same epoch, same generation → current;
 * - same epoch, lower generation → the store is *behind* (an old backup, a lagging replica): keep
 *   serving, warn;
 * - no generation at all → the store is *empty* (restarted, flushed): keep serving, warn;
 * - another epoch → the store was reset and someone published since: that publish is news, apply
 *   it — this is how "the next publish after a reset still reaches every sidecar" holds — and the
 *   old epoch is *abandoned*: should it reappear (two Redis servers behind one name, flapping), it
 *   is ignored instead of flipping the sidecar back and forth.
 *
 * A generation that failed validation is remembered as *refused* and not evaluated again on every
 * poll (it was reported once); the next generation is evaluated as usual.
 */
import type { StoreHead } from './store.js';

/** What a sidecar serves from the fleet. */
export interface Position {
  readonly epoch: string;
  readonly generation: number;
}

export interface Memory {
  /** Epochs this sidecar moved away from. */
  readonly abandoned: ReadonlySet<string>;
  /** The last generation that failed to apply. */
  readonly refused?: Position | undefined;
}

export type Verdict =
  | { readonly kind: 'apply' }
  | { readonly kind: 'current' }
  | { readonly kind: 'empty' }
  | { readonly kind: 'behind' }
  | { readonly kind: 'abandoned' }
  | { readonly kind: 'refused' };

export function judge(served: Position | undefined, head: StoreHead, memory: Memory): Verdict {
  if (head.generation <= 0 || head.epoch === undefined) return { kind: 'empty' };
  if (memory.refused && memory.refused.epoch === head.epoch && memory.refused.generation === head.generation) return { kind: 'refused' };
  if (!served) return memory.abandoned.has(head.epoch) ? { kind: 'abandoned' } : { kind: 'apply' };
  if (head.epoch !== served.epoch) return memory.abandoned.has(head.epoch) ? { kind: 'abandoned' } : { kind: 'apply' };
  if (head.generation > served.generation) return { kind: 'apply' };
  if (head.generation === served.generation) return { kind: 'current' };
  return { kind: 'behind' };
}

/** The warning a verdict carries for logs, /config_dump and `fleet status`; undefined when all is well. */
export function warningOf(v: Verdict, served: Position | undefined, head: StoreHead): string | undefined {
  const serving = served ? `keeping generation ${served.generation} (epoch ${served.epoch})` : 'keeping the policy file';
  switch (v.kind) {
    case 'empty':
      return served ? `the fleet store is empty (Redis restarted or flushed?): ${serving}; the next publish reaches this sidecar` : undefined;
    case 'behind':
      return `the fleet store is at generation ${head.generation}, behind the served ${served?.generation} of the same epoch (a restored backup or a lagging replica?): ${serving}`;
    case 'abandoned':
      return `the fleet store is back on epoch ${head.epoch}, which this sidecar already left: ${serving}`;
    default:
      return undefined;
  }
}
