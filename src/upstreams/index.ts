export { UpstreamRegistry, APP_UPSTREAM, PASSTHROUGH_UPSTREAM, type RegistryPlan } from './registry.js';
export { UpstreamState, type UpstreamDefinition, type UpstreamDeps } from './upstream-state.js';
export { makeEndpoint, type Endpoint } from './endpoint.js';
export { DnsEndpoints, isDnsName, systemResolver, type Resolver, type EndpointSpec } from './dns-endpoints.js';
