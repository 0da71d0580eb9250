/**
 * The sidecar under test as a real process: `pilotfish run --policy FILE`, exactly as users run it.
 * Ports come from its `listening` log line (every listener binds port 0 on loopback, so suites never
 * collide). The last log lines are kept to explain a sidecar that would not start or died.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The CLI beside this module once built (dist/chaos → dist/cli/main.js). */
export const DEFAULT_CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface SidecarProcessOptions {
  readonly policyFile: string;
  /** Path of the pilotfish CLI script. Default: the built CLI beside this module. */
  readonly cli?: string;
  readonly drainTimeoutMs?: number;
  readonly args?: readonly string[];
  /** How long to wait for the `listening` line, ms. */
  readonly startTimeoutMs: number;
}

export type SidecarPorts = Readonly<Record<string, number>> & { readonly outbound: number; readonly telemetry: number };

const LOG_TAIL = 40;

export class SidecarProcess {
  private readonly tail: string[] = [];
  readonly exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess, readonly ports: SidecarPorts) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });
  }

  static async start(o: SidecarProcessOptions): Promise<SidecarProcess> {
    const args = [o.cli ?? DEFAULT_CLI, 'run', '--policy', o.policyFile, ...(o.drainTimeoutMs === undefined ? [] : ['--drain-timeout', `${o.drainTimeoutMs}ms`]), ...(o.args ?? [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    child.stdout!.resume(); // the access log: not needed, but must not fill the pipe and stall the sidecar
    const lines = createInterface({ input: child.stderr! });
    lines.on('line', (line) => { tail.push(line); if (tail.length > LOG_TAIL) tail.shift(); });
    const ports = await new Promise<SidecarPorts>((resolve, reject) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`sidecar did not log "listening" within ${o.startTimeoutMs}ms\n${tail.join('\n')}`)); }, o.startTimeoutMs);
      lines.on('line', (line) => {
        const entry = parseJson(line);
        if (entry?.msg === 'listening' && entry.ports) { clearTimeout(timer); resolve(entry.ports as SidecarPorts); }
      });
      child.once('error', (err) => { clearTimeout(timer); reject(err); });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`sidecar exited with ${code} before listening\n${tail.join('\n')}`)); });
    });
    const p = new SidecarProcess(child, ports);
    p.tail.push(...tail);
    lines.on('line', (line) => { p.tail.push(line); if (p.tail.length > LOG_TAIL) p.tail.shift(); });
    return p;
  }

  get pid(): number | undefined { return this.child.pid; }
  get running(): boolean { return this.child.exitCode === null && this.child.signalCode === null; }
  get logTail(): readonly string[] { return this.tail; }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Last resort from a process `exit` hook: synchronous, no waiting. */
  killNow(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
