/** What a reload (or a source's offer) answers, and the last refused policy kept for /config_dump. */
import { formatDiagnostic, type Diagnostic } from '../config/index.js';
import type { OfferResult, PolicyOrigin } from '../core/policy-source.js';

export class PolicyLoadError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(`invalid policy:\n${diagnostics.map(formatDiagnostic).join('\n')}`);
    this.name = 'PolicyLoadError';
  }
}

export type ReloadTrigger = 'start' | 'file' | 'signal' | 'admin' | 'fleet' | 'api';
export interface ReloadResult extends OfferResult { result: 'ok' | 'unchanged' | 'error'; generation: number; errors?: Diagnostic[] }
export interface LastError {
  at: Date;
  trigger: ReloadTrigger;
  errors: Diagnostic[];
  /** Where the refused policy came from; for the fleet, which generation it was. */
  origin: PolicyOrigin;
  generation?: number | undefined;
}
