/**
 * A `Snapshot` is one compiled, deep-frozen policy: the resolved policy, its generation and content
 * hash, and the route table with every route's handler stack built. The sidecar holds exactly one
 * current snapshot behind one reference; a request reads it once on arrival and keeps it to the end.
 */
import type { Direction, Policy } from '../config/index.js';
import type { Handler } from './context.js';

export interface CompiledRoute {
  readonly name: string;
  readonly direction: Direction;
  readonly timeoutMs: number;
  readonly handler: Handler;
  /** Where an Upgrade (WebSocket) request on this route goes: a tunnel has no retries or layers. */
  upgradeTarget(host: string): URL | undefined;
}

export interface RouteInput {
  host: string;
  path: string;
  query: string;
  method: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface Snapshot {
  readonly generation: number;
  readonly hash: string;
  readonly source: string;
  readonly loadedAt: Date;
  readonly policy: Policy;
  /** The winning route, the built-in fallback (inbound → app, allow-any → passthrough), or undefined. */
  route(direction: Direction, input: RouteInput): CompiledRoute | undefined;
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
