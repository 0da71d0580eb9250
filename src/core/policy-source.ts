/**
 * Where policies come from, as the sidecar sees it (Traefik's providers): a source pushes a
 * **whole policy text**, and the sidecar runs it through the one validate → build → swap path,
 * whichever source sent it. The mounted file is one source; a fleet (Redis) is another. Which
 * offer wins is the sidecar's rule (SPEC §9: the fleet, while it holds a policy; the file is the
 * bootstrap and the fallback), not the source's.
 *
 * Types (and one clock) only, so a source (src/fleet/) never imports the composition root, and
 * library mode can offer policies to its own sink.
 */
import type { Diagnostic } from '../config/index.js';

export type PolicyOrigin = 'file' | 'fleet';

export interface PolicyOffer {
  readonly origin: PolicyOrigin;
  /** The policy text (YAML or JSON), exactly as the source has it. */
  readonly text: string;
  /** Names the text in diagnostics: the file's path, or `fleet:<key>@<generation>`. */
  readonly name: string;
  /** The fleet generation this text is, for reports and `lastError`. */
  readonly generation?: number | undefined;
  /**
   * What `text` parses to, when the source has it already (a fleet generation's `data`): checked
   * as it is instead of parsing the text again (see `parsePolicy`).
   */
  readonly data?: unknown;
  /** The source could not read a policy at all (a corrupt fleet document): why. Refused as invalid. */
  readonly unreadable?: string | undefined;
  /**
   * Where the offer's time went, when the source asks (a fleet sidecar at debug level): the sink
   * stamps each step it passes (`wallMs()`), the source logs them after the offer settles.
   */
  readonly marks?: OfferMarks | undefined;
}

/** Wall-clock times (ms since the epoch, sub-ms: `wallMs()`) of an offer's steps; each set once reached. */
export interface OfferMarks {
  /** The push carrying the policy was read off the socket. */
  received?: number;
  /** The pushed document was parsed and checked (`parseGeneration`). */
  parsed?: number;
  /** The policy was validated (schema and references). */
  validated?: number;
  /** The new snapshot was built. */
  built?: number;
  /** The snapshot became the one requests are served on. */
  swapped?: number;
}

/** Wall-clock time with sub-ms precision, comparable across processes on one machine (unlike `performance.now()`). */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface OfferResult {
  /** `unchanged`: the same text is already served (or a file offer lost to the fleet's policy). */
  readonly result: 'ok' | 'unchanged' | 'error';
  /** The serving snapshot's generation (the sidecar's own count of applied policies). */
  readonly generation: number;
  readonly errors?: readonly Diagnostic[];
}

/** What a source may ask of the sidecar it feeds. */
export interface PolicySink {
  offer(o: PolicyOffer): Promise<OfferResult>;
  /** What it serves now: for the source's reports. */
  serving(): ServingState;
}

export interface ServingState {
  readonly origin: PolicyOrigin;
  /** sha256 of the policy text served. */
  readonly hash: string;
  /** The ports actually bound (all 0 before the listeners are up). */
  readonly ports: Readonly<Record<string, number>>;
}

export interface PolicySource {
  /**
   * Starts offering policies to `sink`. Resolves once the source has offered what it has now — or
   * has given up waiting for it (an unreachable Redis must not hold a sidecar's start for long).
   */
  start(sink: PolicySink): Promise<void>;
  /** The sidecar's listeners are bound (its address can be reported from now on). */
  onListening?(): void;
  stop(): Promise<void>;
  /** The source's state for `/config_dump` (never with credentials). */
  describe(): Record<string, unknown>;
}
