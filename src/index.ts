/**
 * The package's entry (`import { createMesh } from 'pilotfish'`): library mode, SPEC §10. The
 * sidecar itself is the `pilotfish` command (dist/cli/main.js).
 */
export { createMesh, type Mesh, type MeshOptions, type MeshFaults, type MeshExplanation, type ExplainInit, type MeshPolicy } from './mesh/index.js';
export type { ReloadResult } from './dataplane/index.js';
export type { Diagnostic, Policy } from './config/index.js';
export type { RuntimeFault, RuntimeFaultInput } from './resilience/index.js';
export type { ExplainResult } from './explain/explain.js';
export type { Locality } from './routing/index.js';
export type { EngineKind } from './proxy/engine.js';
