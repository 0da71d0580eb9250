/**
 * The data plane both edges compose: the sidecar (listeners, admin) and library mode (`createMesh`).
 */
export {
  DataPlane, PolicyLoadError,
  type DataPlaneOptions, type FleetAttachment, type LastError, type PolicyInput, type ReloadResult, type ReloadTrigger,
} from './data-plane.js';
