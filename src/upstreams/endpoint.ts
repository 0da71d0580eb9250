/** One address an upstream can be reached at, parsed once per snapshot. */
export interface Endpoint {
  /** `host:port` as written in the policy (or resolved); the id in logs, metrics and /clusters. */
  readonly address: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Pre-parsed target for the forwarding engine, so no URL is parsed per request. */
  readonly url: URL;
}

export function makeEndpoint(address: string, labels: Readonly<Record<string, string>> = {}): Endpoint {
  return Object.freeze({ address, labels: Object.freeze({ ...labels }), url: new URL(`http://${address}`) });
}

export function selects(selector: Readonly<Record<string, string>>, e: Endpoint): boolean {
  for (const key in selector) if (e.labels[key] !== selector[key]) return false;
  return true;
}
