export { UpstreamRegistry, APP_UPSTREAM, PASSTHROUGH_UPSTREAM, type RegistryPlan } from './registry.js';
export { UpstreamState, type UpstreamOptions } from './upstream-state.js';
export { makeEndpoint, type Endpoint } from './endpoint.js';
