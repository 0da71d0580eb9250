/**
 * `pilotfish iptables` (and the `pilotfish-init` image's entry point): sets up, prints or removes
 * the traffic-capture rules in the current network namespace. Exit codes: 0 ok, 1 the rules could
 * not be applied, 2 usage errors.
 */
import { parseArgs } from 'node:util';
import {
  DEFAULT_CAPTURE, parseCidrList, parseCidrSelection, parsePort, parsePortList, parsePortSelection,
  type CaptureOptions, type Parsed,
} from './capture-options.js';
import { processIo, type CommandIo } from './command-io.js';
import {
  applyCapture, ipv6Enabled, removeCapture, spawnExec, tools, type Backend, type Exec, type FamilyOutcome, type FamilyPlan,
} from './iptables-apply.js';
import { buildRuleSet, renderRestore } from './iptables-rules.js';

export const IPTABLES_USAGE = `usage: pilotfish iptables [--dry-run | --cleanup] [options]

Sends the pod's inbound TCP to the sidecar's inbound listener and its outbound TCP to the outbound
listener (nat table, iptables-restore). Run by the init container, which needs CAP_NET_ADMIN.

  --dry-run                       print the iptables-restore input instead of applying it
  --cleanup                       remove the rules (only Pilotfish's chains and jumps)
  --proxy-uid UID                 the sidecar's uid, whose traffic is never redirected (default 1337)
  --inbound-port PORT             the sidecar's inbound listener (default 15006)
  --outbound-port PORT            the sidecar's outbound listener (default 15001)
  --include-inbound-ports LIST    '*' (default) or the inbound ports to capture
  --exclude-inbound-ports LIST    inbound ports left alone (15020 and 15021 always are)
  --exclude-outbound-ports LIST   outbound destination ports left alone (53 always is)
  --exclude-outbound-cidrs LIST   outbound destinations left alone, e.g. 10.0.0.0/24,fd00::/8
  --include-outbound-cidrs LIST   '*' (default) or the only outbound destinations to capture
  --ipv6 auto|on|off              ip6tables too; auto (default): where the namespace has IPv6,
                                  and a failure there is reported but not fatal
  --backend default|nft|legacy    iptables flavour to call (default: the system's iptables)
LIST is comma-separated.
`;

/** Seams for tests: the command runner and the IPv6 probe. */
export interface IptablesDeps {
  readonly exec: Exec;
  readonly ipv6Enabled: () => boolean;
}

const realDeps: IptablesDeps = { exec: spawnExec, ipv6Enabled };

export async function iptablesCommand(args: string[], io: CommandIo = processIo, deps: IptablesDeps = realDeps): Promise<number> {
  const usage = (message: string): number => { io.stderr(`pilotfish iptables: ${message}\n\n${IPTABLES_USAGE}`); return 2; };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args, strict: true, options: OPTIONS }));
  } catch (err) {
    return usage((err as Error).message);
  }
  if (values.help) { io.stdout(IPTABLES_USAGE); return 0; }
  if (values['dry-run'] && values.cleanup) return usage('--dry-run and --cleanup exclude each other');
  const parsed = parseCaptureFlags(values);
  if (!parsed.ok) return usage(parsed.error);
  const ipv6 = String(values.ipv6 ?? 'auto');
  const backend = String(values.backend ?? 'default');
  if (!['auto', 'on', 'off'].includes(ipv6)) return usage(`--ipv6 must be auto, on or off, not "${ipv6}"`);
  if (!['default', 'nft', 'legacy'].includes(backend)) return usage(`--backend must be default, nft or legacy, not "${backend}"`);

  const options = parsed.value;
  if (values['dry-run']) {
    for (const family of ipv6 === 'off' ? [4 as const] : [4 as const, 6 as const]) {
      const note = family === 6 && ipv6 === 'auto' ? ' (applied where the pod has IPv6)' : '';
      io.stdout(`# ${tools(family, backend as Backend).restore} --noflush${note}\n${renderRestore(buildRuleSet(options, family))}`);
    }
    return 0;
  }
  const plan: FamilyPlan[] = [{ family: 4, optional: false }];
  if (ipv6 === 'on') plan.push({ family: 6, optional: false });
  else if (ipv6 === 'auto' && deps.ipv6Enabled()) plan.push({ family: 6, optional: true });
  const run = { backend: backend as Backend, exec: deps.exec };
  try {
    const outcomes = values.cleanup ? await removeCapture(plan, run) : await applyCapture(options, plan, run);
    report(outcomes, io, backend as Backend);
    return 0;
  } catch (err) {
    io.stderr(`pilotfish iptables: ${(err as Error).message}\n`);
    return 1;
  }
}

const OPTIONS = {
  'dry-run': { type: 'boolean' },
  cleanup: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  'proxy-uid': { type: 'string' },
  'inbound-port': { type: 'string' },
  'outbound-port': { type: 'string' },
  'include-inbound-ports': { type: 'string' },
  'exclude-inbound-ports': { type: 'string' },
  'exclude-outbound-ports': { type: 'string' },
  'exclude-outbound-cidrs': { type: 'string' },
  'include-outbound-cidrs': { type: 'string' },
  ipv6: { type: 'string' },
  backend: { type: 'string' },
} as const;

/** The capture options named by the flags, each defaulting to {@link DEFAULT_CAPTURE}. */
export function parseCaptureFlags(values: Record<string, string | boolean | undefined>): Parsed<CaptureOptions> {
  const errors: string[] = [];
  const field = <T>(name: string, parse: (text: string) => Parsed<T>, fallback: T): T => {
    const text = values[name];
    if (typeof text !== 'string') return fallback;
    const r = parse(text);
    if (r.ok) return r.value;
    errors.push(`--${name}: ${r.error}`);
    return fallback;
  };
  const options: CaptureOptions = {
    proxyUid: field('proxy-uid', parseUid, DEFAULT_CAPTURE.proxyUid),
    inboundPort: field('inbound-port', parsePort, DEFAULT_CAPTURE.inboundPort),
    outboundPort: field('outbound-port', parsePort, DEFAULT_CAPTURE.outboundPort),
    includeInboundPorts: field('include-inbound-ports', parsePortSelection, DEFAULT_CAPTURE.includeInboundPorts),
    excludeInboundPorts: field('exclude-inbound-ports', parsePortList, DEFAULT_CAPTURE.excludeInboundPorts),
    excludeOutboundPorts: field('exclude-outbound-ports', parsePortList, DEFAULT_CAPTURE.excludeOutboundPorts),
    excludeOutboundCidrs: field('exclude-outbound-cidrs', parseCidrList, DEFAULT_CAPTURE.excludeOutboundCidrs),
    includeOutboundCidrs: field('include-outbound-cidrs', parseCidrSelection, DEFAULT_CAPTURE.includeOutboundCidrs),
  };
  return errors.length === 0 ? { ok: true, value: options } : { ok: false, error: errors.join('; ') };
}

function parseUid(text: string): Parsed<number> {
  const n = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
  return n >= 0 && n <= 0xfffffffe ? { ok: true, value: n } : { ok: false, error: `invalid uid "${text}"` };
}

function report(outcomes: readonly FamilyOutcome[], io: CommandIo, backend: Backend): void {
  for (const o of outcomes) {
    const label = o.family === 4 ? 'IPv4' : 'IPv6';
    const tool = tools(o.family, backend).restore;
    if (o.status === 'skipped') io.stderr(`pilotfish iptables: ${label} skipped: ${o.reason ?? 'unavailable'}\n`);
    else if (o.status === 'nothing-to-remove') io.stdout(`# ${label}: no Pilotfish rules installed\n`);
    else io.stdout(`# ${label}: ${o.status} with ${tool} --noflush\n${o.rules ?? ''}`);
  }
}
