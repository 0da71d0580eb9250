/** The fleet commands (SPEC §2): the CLI loads this only to run one of them. */
export { publishCommand, PUBLISH_USAGE } from './publish.js';
export { rollbackCommand, ROLLBACK_USAGE } from './rollback.js';
export { fleetCommand, readStatus, FLEET_USAGE, type FleetStatus, type SidecarStatus } from './status.js';
