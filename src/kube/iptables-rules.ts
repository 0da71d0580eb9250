/**
 * The nat-table rules that capture a pod's traffic, in the style of istio-iptables: four chains of
 * our own, hooked into PREROUTING (inbound) and OUTPUT (outbound), rendered as `iptables-restore`
 * input so they are applied in one atomic transaction. Pure: the apply step lives in iptables-apply.ts.
 *
 *   PREROUTING ─▶ PILOTFISH_INBOUND ─(not excluded)─▶ PILOTFISH_IN_REDIRECT ─▶ REDIRECT :15006
 *   OUTPUT ─▶ PILOTFISH_OUTPUT ─(not uid 1337, not lo, not excluded)─▶ PILOTFISH_REDIRECT ─▶ REDIRECT :15001
 */
import {
  ALWAYS_EXCLUDED_INBOUND_PORTS, ALWAYS_EXCLUDED_OUTBOUND_PORTS, type CaptureOptions, type Family,
} from './capture-options.js';

export const CHAIN = {
  inbound: 'PILOTFISH_INBOUND',
  inRedirect: 'PILOTFISH_IN_REDIRECT',
  output: 'PILOTFISH_OUTPUT',
  redirect: 'PILOTFISH_REDIRECT',
} as const;

/** Every chain we own, in declaration order. */
export const CHAINS: readonly string[] = [CHAIN.inbound, CHAIN.redirect, CHAIN.inRedirect, CHAIN.output];

/** The rules that hook our chains into the built-in ones; each must appear exactly once. */
export const JUMPS: readonly string[] = [
  `-A PREROUTING -p tcp -j ${CHAIN.inbound}`,
  `-A OUTPUT -p tcp -j ${CHAIN.output}`,
];

export interface RuleSet {
  readonly family: Family;
  /** `-A …` lines for our own chains, in order. */
  readonly rules: readonly string[];
}

/** The rules for one family. CIDRs of the other family are left to that family's rule set. */
export function buildRuleSet(o: CaptureOptions, family: Family): RuleSet {
  const rules: string[] = [];
  const add = (chain: string, spec: string): void => { rules.push(`-A ${chain} ${spec}`); };

  // Inbound: exclusions first (RETURN lets the connection reach its port untouched), then capture.
  for (const port of unique([...ALWAYS_EXCLUDED_INBOUND_PORTS, ...o.excludeInboundPorts])) {
    add(CHAIN.inbound, `-p tcp --dport ${port} -j RETURN`);
  }
  if (o.includeInboundPorts === '*') add(CHAIN.inbound, `-p tcp -j ${CHAIN.inRedirect}`);
  else for (const port of o.includeInboundPorts) add(CHAIN.inbound, `-p tcp --dport ${port} -j ${CHAIN.inRedirect}`);
  add(CHAIN.inRedirect, `-p tcp -j REDIRECT --to-ports ${o.inboundPort}`);

  // Outbound. The uid rule comes first: the sidecar's own upstream calls must never come back to it.
  // Loopback is the app talking to itself or to the sidecar as an explicit HTTP proxy: left alone.
  add(CHAIN.output, `-m owner --uid-owner ${o.proxyUid} -j RETURN`);
  add(CHAIN.output, '-o lo -j RETURN');
  for (const port of unique([...ALWAYS_EXCLUDED_OUTBOUND_PORTS, ...o.excludeOutboundPorts])) {
    add(CHAIN.output, `-p tcp --dport ${port} -j RETURN`);
  }
  for (const cidr of o.excludeOutboundCidrs) if (cidr.family === family) add(CHAIN.output, `-d ${cidr.text} -j RETURN`);
  if (o.includeOutboundCidrs === '*') add(CHAIN.output, `-j ${CHAIN.redirect}`);
  // A list with no range of this family captures nothing of this family, which is what it says.
  else for (const cidr of o.includeOutboundCidrs) if (cidr.family === family) add(CHAIN.output, `-d ${cidr.text} -j ${CHAIN.redirect}`);
  add(CHAIN.redirect, `-p tcp -j REDIRECT --to-ports ${o.outboundPort}`);
  return { family, rules };
}

/**
 * `iptables-restore --noflush` input. Declaring a chain (`:NAME - [0:0]`) creates it or, when it
 * exists from an earlier run, flushes it, so re-applying replaces our rules and leaves everyone
 * else's alone. The jumps are left out when `withJumps` is false because they are already there
 * (re-adding would duplicate them).
 */
export function renderRestore(set: RuleSet, withJumps = true): string {
  const lines = ['*nat', ...CHAINS.map((c) => `:${c} - [0:0]`), ...set.rules];
  if (withJumps) lines.push(...JUMPS);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** Which of our chains and how many of our jumps an `iptables-save -t nat` dump shows. */
export interface Installed {
  readonly chains: readonly string[];
  /** Occurrences of each of {@link JUMPS}, by index. */
  readonly jumps: readonly number[];
}

export function parseInstalled(save: string): Installed {
  const lines = save.split('\n').map((l) => l.replace(/^\[\d+:\d+\]\s+/, '').trim());
  const chains = CHAINS.filter((c) => lines.some((l) => l.startsWith(`:${c} `)));
  const jumps = JUMPS.map((j) => lines.filter((l) => sameJump(l, j)).length);
  return { chains, jumps };
}

/** iptables-save may print the match module (`-m tcp`) we left implicit; compare without it. */
function sameJump(saved: string, jump: string): boolean {
  return saved.replace(/ -m tcp\b/g, '') === jump;
}

/** `iptables-restore --noflush` input that removes everything we installed, or undefined if nothing is. */
export function renderCleanup(installed: Installed): string | undefined {
  const lines: string[] = [];
  JUMPS.forEach((j, i) => {
    for (let n = 0; n < installed.jumps[i]!; n++) lines.push(j.replace(/^-A /, '-D '));
  });
  // Flush every chain before deleting any: they jump to each other, and a referenced chain cannot go.
  for (const c of installed.chains) lines.push(`-F ${c}`);
  for (const c of installed.chains) lines.push(`-X ${c}`);
  return lines.length === 0 ? undefined : ['*nat', ...lines, 'COMMIT', ''].join('\n');
}

function unique(ports: readonly number[]): number[] {
  return [...new Set(ports)];
}
