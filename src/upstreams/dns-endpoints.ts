/**
 * Endpoints named by DNS (SPEC §4 `dnsRefresh`): a name resolves to all its A/AAAA records, each an
 * endpoint inheriting the policy entry's labels, re-resolved every `dnsRefresh`. The answers live in
 * node-cache with that TTL; when an entry expires it is resolved again. A failed resolution keeps the
 * last good set (a DNS hiccup must not empty an upstream) and is retried on the next refresh.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import NodeCache from 'node-cache';
import { makeEndpoint, type Endpoint } from './endpoint.js';

/** All addresses of a name; the default asks the system resolver (getaddrinfo, as Node's http does). */
export type Resolver = (name: string) => Promise<string[]>;

export const systemResolver: Resolver = async (name) => (await lookup(name, { all: true, order: 'verbatim' })).map((a) => a.address);

export interface EndpointSpec { readonly address: string; readonly labels: Readonly<Record<string, string>> }

export function isDnsName(address: string): boolean {
  const host = address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  return isIP(host) === 0;
}

export class DnsEndpoints {
  private readonly cache: NodeCache;
  private readonly names: Array<{ name: string; port: string; labels: Readonly<Record<string, string>> }> = [];
  private readonly statics: Endpoint[] = [];
  private disposed = false;

  constructor(specs: readonly EndpointSpec[], refreshMs: number, private readonly onChange: (endpoints: Endpoint[]) => void,
    private readonly resolver: Resolver = systemResolver, private readonly onError: (name: string, err: unknown) => void = () => {}) {
    for (const s of specs) {
      const i = s.address.lastIndexOf(':');
      if (isDnsName(s.address)) this.names.push({ name: s.address.slice(0, i), port: s.address.slice(i + 1), labels: s.labels });
      else this.statics.push(makeEndpoint(s.address, s.labels));
    }
    const ttl = Math.max(1, refreshMs / 1000);
    // useClones: false — node-cache would deep-copy every array on get/set; keys are prefixed so no
    // name can collide with the plain object's own properties.
    this.cache = new NodeCache({ stdTTL: ttl, checkperiod: ttl, useClones: false });
    this.cache.on('expired', (key: string, addresses: string[]) => { void this.refresh(key.slice(4), addresses); });
  }

  get hasNames(): boolean {
    return this.names.length > 0;
  }

  /** Resolves every name once; resolves when all have answered (or failed). */
  async start(): Promise<void> {
    await Promise.all(this.uniqueNames().map((n) => this.refresh(n, [])));
  }

  /** The endpoints now: static addresses, then each name's records in resolver order. */
  current(): Endpoint[] {
    const out = [...this.statics];
    for (const n of this.names) {
      const addrs = this.cache.get<string[]>(`dns:${n.name}`) ?? this.lastGood.get(n.name) ?? [];
      for (const a of addrs) out.push(makeEndpoint(isIP(a) === 6 ? `[${a}]:${n.port}` : `${a}:${n.port}`, n.labels));
    }
    return out;
  }

  private readonly lastGood = new Map<string, string[]>();

  private async refresh(name: string, previous: string[]): Promise<void> {
    if (this.disposed) return;
    let addrs: string[];
    try {
      addrs = [...new Set(await this.resolver(name))];
      if (addrs.length === 0) throw new Error('no addresses');
    } catch (err) {
      this.onError(name, err);
      addrs = this.lastGood.get(name) ?? previous;
    }
    if (this.disposed) return;
    const before = this.lastGood.get(name);
    this.lastGood.set(name, addrs);
    this.cache.set(`dns:${name}`, addrs);
    if (!before || before.join() !== addrs.join()) this.onChange(this.current());
  }

  private uniqueNames(): string[] {
    return [...new Set(this.names.map((n) => n.name))];
  }

  dispose(): void {
    this.disposed = true;
    this.cache.flushAll();
    this.cache.close();
  }
}
