/**
 * Tests that need a system program (iptables, redis-server, …) run where it is installed and skip
 * elsewhere, so `npm ci && npm test` passes on a machine with nothing but Node and npm. A skipped
 * suite says what is missing and the command that installs it, in one line on stderr and in its
 * name, which the skip reporter (`skip-reporter.ts`) gathers into the run's summary.
 *
 * CI (`.ci/run`) installs every program and sets `PILOTFISH_REQUIRE_SYSTEM=1`: then a missing
 * program is an error, not a skip, so CI always runs these tests.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export interface SystemProgram {
  readonly program: string;
  /** The Debian package that provides it. */
  readonly apt: string;
}

export const IPTABLES: SystemProgram = { program: 'iptables', apt: 'iptables' };
export const IP: SystemProgram = { program: 'ip', apt: 'iproute2' };
export const SETPRIV: SystemProgram = { program: 'setpriv', apt: 'util-linux' };
export const REDIS_SERVER: SystemProgram = { program: 'redis-server', apt: 'redis-server' };
export const OPENSSL: SystemProgram = { program: 'openssl', apt: 'openssl' };

/** Every system program a test of this repository may need: what `.ci/run` installs. */
export const ALL_PROGRAMS: readonly SystemProgram[] = [IPTABLES, IP, SETPRIV, REDIS_SERVER, OPENSSL];

/** The marker a skipped suite's name carries; the skip reporter groups skips by it. */
export const SKIP_MARK = '[skipped: ';

export interface Requirement {
  readonly ok: boolean;
  /** Why it is skipped ('' when ok): what is missing and how to install it. */
  readonly reason: string;
  /** Appended to the suite's name: '' when ok, else ` [skipped: <reason>]`. */
  readonly label: string;
}

const REQUIRED = process.env.PILOTFISH_REQUIRE_SYSTEM === '1';

export function onPath(program: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      accessSync(path.join(dir, program), constants.X_OK);
      return true;
    } catch { /* not in this directory */ }
  }
  return false;
}

/** Whether every program is installed; with PILOTFISH_REQUIRE_SYSTEM=1 a missing one throws. */
export function needs(...programs: SystemProgram[]): Requirement {
  const missing = programs.filter((p) => !onPath(p.program));
  if (missing.length === 0) return { ok: true, reason: '', label: '' };
  return skip(`needs ${missing.map((p) => p.program).join(', ')} (install: apt-get install -y ${[...new Set(missing.map((p) => p.apt))].join(' ')})`);
}

/**
 * A skip for another reason the environment imposes (no root, no network namespaces); under
 * PILOTFISH_REQUIRE_SYSTEM=1 it throws like a missing program.
 */
export function skip(reason: string): Requirement {
  if (REQUIRED) throw new Error(`PILOTFISH_REQUIRE_SYSTEM=1 but this test cannot run: ${reason}`);
  process.stderr.write(`skipping: ${reason}\n`);
  return { ok: false, reason, label: ` ${SKIP_MARK}${reason}]` };
}

/**
 * Skips the running test for a reason found only at run time (a capability probed in `beforeAll`),
 * through `skip()`: declared, counted by the skip reporter (the note carries the mark), and an error
 * under PILOTFISH_REQUIRE_SYSTEM=1.
 */
export function skipNow(ctx: { skip(note?: string): never }, reason: string): never {
  return ctx.skip(skip(reason).label.trim());
}
