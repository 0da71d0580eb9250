/**
 * The policy file the local sidecar runs on. Suite policies name fake endpoints by placeholder and
 * may name any listener ports; the file the sidecar sees has the placeholders filled and every
 * listener on 127.0.0.1 port 0 — traffic stays on loopback and parallel suites never collide. Writes
 * are atomic (write aside, rename over), so the sidecar's watcher never reads half a policy.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { fillPlaceholders, fillText, type EndpointTable } from './placeholders.js';

export interface PolicySource {
  readonly inline?: Readonly<Record<string, unknown>> | undefined;
  /** Absolute path. */
  readonly file?: string | undefined;
}

export class PolicyFile {
  private writes = 0;
  private text: string;

  /** `original`: the rendered text the sidecar started on. */
  constructor(readonly path: string, private readonly table: EndpointTable, readonly original: string) {
    this.text = original;
  }

  /** What the file holds now. */
  get current(): string { return this.text; }

  static async create(dir: string, table: EndpointTable, source: PolicySource): Promise<PolicyFile> {
    const file = path.join(dir, 'policy.yaml');
    const text = await renderPolicy(source, table);
    await writeFile(file, text);
    return new PolicyFile(file, table, text);
  }

  render(source: PolicySource): Promise<string> {
    return renderPolicy(source, this.table);
  }

  async write(text: string): Promise<void> {
    const aside = `${this.path}.${process.pid}.${++this.writes}.tmp`;
    await writeFile(aside, text);
    await rename(aside, this.path);
    this.text = text;
  }

  /** The admin token the policy sets, if any. */
  adminToken(): string | undefined {
    const policy = parse(this.original) as { listeners?: { admin?: { token?: unknown } } } | null;
    const token = policy?.listeners?.admin?.token;
    return typeof token === 'string' ? token : undefined;
  }
}

export async function renderPolicy(source: PolicySource, table: EndpointTable): Promise<string> {
  const policy = source.inline
    ? fillPlaceholders(source.inline, table)
    : parse(fillText(await readFile(source.file!, 'utf8'), table)) as unknown;
  return stringify(onLoopback(policy as Record<string, unknown>));
}

type Listeners = { inbound?: { app?: unknown }; admin?: { token?: unknown } };

function onLoopback(policy: Record<string, unknown>): Record<string, unknown> {
  const l = (policy.listeners ?? {}) as Listeners;
  return {
    ...policy,
    listeners: {
      outbound: { port: 0, address: '127.0.0.1' },
      inbound: { port: 0, address: '127.0.0.1', ...(l.inbound?.app === undefined ? {} : { app: l.inbound.app }) },
      admin: { port: 0, address: '127.0.0.1', ...(l.admin?.token === undefined ? {} : { token: l.admin.token }) },
      telemetry: { port: 0, address: '127.0.0.1' },
    },
  };
}
