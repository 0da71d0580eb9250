/** What the admin API needs from the sidecar (a type-only seam, so admin never imports the root). */
import type http from 'node:http';
import type { Snapshot } from '../core/snapshot.js';
import type { UpstreamRegistry } from '../upstreams/index.js';
import type { Diagnostic } from '../config/index.js';
import type { Locality } from '../routing/index.js';

export interface AdminReplyShape { status: number; body?: unknown; headers?: http.OutgoingHttpHeaders }
export type AdminHandler = (req: http.IncomingMessage, match: RegExpExecArray, body: string) => Promise<AdminReplyShape> | AdminReplyShape;

export interface AdminTarget {
  readonly snapshot: Snapshot;
  readonly options: { readonly policyFile: string; readonly locality?: Locality | undefined };
  readonly lastError: { at: Date; trigger: string; errors: Diagnostic[]; origin: string; generation?: number | undefined } | undefined;
  /** Where the serving policy came from: `file` or `fleet`. */
  readonly origin: string;
  /** The fleet's state (key, URL without credentials, generation, connected), when one is attached. */
  fleetState(): Record<string, unknown> | undefined;
  /** The workload identity (SPIFFE ID, validity, files, last refused rotation), when configured. */
  identityState(): Record<string, unknown> | undefined;
  readonly inflightRequests: number;
  readonly isDraining: boolean;
  readonly upstreams: UpstreamRegistry;
  reload(trigger: 'admin'): Promise<{ result: string; generation: number; errors?: Diagnostic[] }>;
  drain(): Promise<boolean>;
  /** Further endpoints (faults, explain) contributed by other modules. */
  adminRoutes(): Array<[RegExp, { methods: Record<string, AdminHandler> }]>;
}
