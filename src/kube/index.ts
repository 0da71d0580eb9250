/**
 * Kubernetes: sidecar injection (`pilotfish inject`) and traffic capture (`pilotfish iptables`, the
 * `pilotfish-init` image). The CLI wires the two commands; the rest is exported for tests and tools.
 */
export { injectCommand, INJECT_USAGE } from './inject-command.js';
export { iptablesCommand, IPTABLES_USAGE, parseCaptureFlags } from './iptables-command.js';
export type { CommandIo } from './command-io.js';
export { injectManifests, formatDiagnostic, type Diagnostic, type InjectResult } from './inject.js';
export { terminationGraceSeconds, type SidecarSettings } from './sidecar-spec.js';
export {
  ANNOTATION, DEFAULT_POLICY_CONFIGMAP, INIT_NAME, INJECTED_LABEL, POLICY_FILE, PORTS, PROXY_UID, SIDECAR_NAME,
  defaultImage, initImageFor,
} from './names.js';
export { WORKLOAD_KINDS } from './workloads.js';
export { DEFAULT_CAPTURE, type CaptureOptions } from './capture-options.js';
export { buildRuleSet, renderRestore, CHAIN } from './iptables-rules.js';
export { applyCapture, removeCapture, type Exec } from './iptables-apply.js';
