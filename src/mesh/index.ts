/** Library mode (SPEC §10): `createMesh()` and its types. */
export { createMesh, type Mesh, type MeshOptions, type MeshFaults, type MeshExplanation, type ExplainInit } from './create-mesh.js';
export type { MeshPolicy } from './policy-input.js';
