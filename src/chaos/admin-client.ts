/**
 * The sidecar's admin API as the runner uses it (SPEC §7): runtime faults with a TTL, reloads, and a
 * scrape of `/metrics` on the telemetry port. Requests carry the bearer token when the policy set one.
 */
import type { FaultAction } from './action-schema.js';
import { parsePromText, type MetricSample } from './prom-text.js';

const TIMEOUT_MS = 5000;

export class AdminError extends Error {
  override readonly name = 'AdminError';
}

export class AdminClient {
  constructor(private readonly base: URL, private readonly token?: string) {}

  get url(): string { return this.base.href; }

  /** `POST /faults`; returns the fault's id. */
  async addFault(fault: FaultAction): Promise<string> {
    const body = {
      ...(fault.route === undefined ? {} : { route: fault.route }),
      ...(fault.upstream === undefined ? {} : { upstream: fault.upstream }),
      on: fault.on,
      ...(fault.delay === undefined ? {} : { delay: { fixed: `${fault.delay.fixed}ms`, percent: fault.delay.percent } }),
      ...(fault.abort === undefined ? {} : { abort: fault.abort }),
      ttl: `${fault.ttl}ms`,
    };
    const res = await this.call('POST', '/faults', body);
    const json = (await res.json()) as { id?: unknown };
    if (typeof json.id !== 'string') throw new AdminError(`POST /faults answered without an id: ${JSON.stringify(json)}`);
    return json.id;
  }

  /** `DELETE /faults/{id}`; a fault already gone (expired) is fine. */
  async removeFault(id: string): Promise<void> {
    await this.call('DELETE', `/faults/${encodeURIComponent(id)}`, undefined, [204, 404]);
  }

  async listFaults(): Promise<unknown[]> {
    const res = await this.call('GET', '/faults');
    return ((await res.json()) as { faults?: unknown[] }).faults ?? [];
  }

  /** `GET /config_dump`. */
  async configDump(): Promise<unknown> {
    return (await this.call('GET', '/config_dump')).json();
  }

  async reload(): Promise<void> {
    await this.call('POST', '/reload');
  }

  private async call(method: string, path: string, body?: unknown, okStatuses?: number[]): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(new URL(path, this.base), {
        method, headers, signal: AbortSignal.timeout(TIMEOUT_MS), ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new AdminError(`${method} ${new URL(path, this.base).href}: ${describe(err)}`);
    }
    if (okStatuses ? !okStatuses.includes(res.status) : !res.ok) {
      const text = await res.text().catch(() => '');
      throw new AdminError(`${method} ${path} answered ${res.status}${text ? `: ${text.slice(0, 300)}` : ''}`);
    }
    return res;
  }
}

/** Scrapes a Prometheus endpoint. */
export async function scrapeMetrics(url: URL): Promise<MetricSample[]> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    throw new AdminError(`GET ${url.href}: ${describe(err)}`);
  }
  if (!res.ok) throw new AdminError(`GET ${url.href} answered ${res.status}`);
  return parsePromText(await res.text());
}

function describe(err: unknown): string {
  const e = err as Error & { cause?: NodeJS.ErrnoException };
  return e.cause?.code ?? e.cause?.message ?? e.message;
}
