/**
 * The fake upstreams of a local environment: for each named upstream, its replicas, each behind its
 * own toxic proxy. The policy is given the proxies' addresses, so every byte between the sidecar and
 * an endpoint passes a place where a toxic can be put.
 */
import type { FakeUpstreamSpec } from './suite-schema.js';
import { FakeEndpoint } from './fake-endpoint.js';
import type { EndpointTable } from './placeholders.js';
import type { EndpointRef } from './schema-primitives.js';
import { ToxicProxy } from './toxic-proxy.js';

export interface UpstreamMember {
  readonly upstream: string;
  readonly index: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly fake: FakeEndpoint;
  readonly proxy: ToxicProxy;
}

export class FakeUpstreams {
  private constructor(private readonly members: readonly UpstreamMember[]) {}

  static async start(specs: Readonly<Record<string, FakeUpstreamSpec>>, random?: () => number): Promise<FakeUpstreams> {
    const members: UpstreamMember[] = [];
    const fleet = new FakeUpstreams(members);
    try {
      for (const [upstream, spec] of Object.entries(specs)) {
        for (let index = 0; index < spec.replicas; index++) {
          const behaviour = { latency: spec.latency, errors: spec.errors, bodySize: spec.bodySize, healthPath: spec.healthPath };
          const fake = await FakeEndpoint.start({ upstream, index, behaviour, ...(random ? { random } : {}) });
          const proxy = await ToxicProxy.start({ targetPort: fake.port, ...(random ? { random } : {}) });
          members.push({ upstream, index, labels: spec.labels, fake, proxy });
        }
      }
    } catch (err) {
      await fleet.close();
      throw err;
    }
    return fleet;
  }

  all(): readonly UpstreamMember[] { return this.members; }

  /** The replicas a reference names: one (`reviews[1]`) or all of an upstream (`reviews`). */
  select(ref: EndpointRef): UpstreamMember[] {
    return this.members.filter((m) => m.upstream === ref.upstream && (ref.index === undefined || m.index === ref.index));
  }

  /** Addresses the policy should use: the toxic proxies'. */
  table(): EndpointTable {
    const table: Record<string, Array<{ address: string; labels: Readonly<Record<string, string>> }>> = {};
    for (const m of this.members) (table[m.upstream] ??= []).push({ address: m.proxy.address, labels: m.labels });
    return table;
  }

  labelsOf(instance: string): Readonly<Record<string, string>> | undefined {
    return this.members.find((m) => m.fake.instance === instance)?.labels;
  }

  async kill(ref: EndpointRef): Promise<void> {
    await Promise.all(this.select(ref).map(async (m) => {
      await m.proxy.disable();
      await m.fake.kill();
    }));
  }

  async restart(ref: EndpointRef): Promise<void> {
    await Promise.all(this.select(ref).map(async (m) => {
      await m.fake.restart();
      m.proxy.setTarget(m.fake.port);
      await m.proxy.enable();
    }));
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map(async (m) => {
      await m.proxy.close();
      await m.fake.close();
    }));
  }
}
