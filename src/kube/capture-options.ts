/**
 * What the traffic-capture rules capture and what they leave alone (SPEC §3), and the parsers for
 * the comma-separated lists the init container's flags and the pod annotations carry. Pure: no I/O.
 */
import net from 'node:net';

/** IP family of a rule set: 4 for iptables, 6 for ip6tables. */
export type Family = 4 | 6;

/** A destination range, already checked, in the family its address belongs to. */
export interface Cidr {
  readonly family: Family;
  /** Canonical `address/prefix` text as iptables takes it. */
  readonly text: string;
}

export interface CaptureOptions {
  /** The sidecar's uid: its own connections are never redirected (else they would loop). Default 1337. */
  readonly proxyUid: number;
  /** The sidecar's inbound listener, where captured inbound TCP goes. Default 15006. */
  readonly inboundPort: number;
  /** The sidecar's outbound listener, where captured outbound TCP goes. Default 15001. */
  readonly outboundPort: number;
  /** Inbound destination ports to capture: `'*'` for all (default) or a list. */
  readonly includeInboundPorts: '*' | readonly number[];
  /** Inbound ports left alone, on top of {@link ALWAYS_EXCLUDED_INBOUND_PORTS}. */
  readonly excludeInboundPorts: readonly number[];
  /** Outbound destination ports left alone, on top of {@link ALWAYS_EXCLUDED_OUTBOUND_PORTS}. */
  readonly excludeOutboundPorts: readonly number[];
  /** Outbound destinations left alone (e.g. a database subnet or the node's metadata service). */
  readonly excludeOutboundCidrs: readonly Cidr[];
  /** Outbound destinations to capture: `'*'` for all (default) or a list (e.g. the cluster's service CIDR). */
  readonly includeOutboundCidrs: '*' | readonly Cidr[];
}

/**
 * The sidecar's telemetry port (kubelet probes it, Prometheus scrapes it) and the conventional health
 * port 15021 must reach their listeners directly: redirected to 15006 they would be forwarded to the app.
 */
export const ALWAYS_EXCLUDED_INBOUND_PORTS: readonly number[] = [15020, 15021];

/**
 * The sidecar speaks HTTP only. DNS falls back to TCP for large answers; redirected to the HTTP
 * listener those lookups would fail in a way nobody would think to look for, so port 53 is never captured.
 */
export const ALWAYS_EXCLUDED_OUTBOUND_PORTS: readonly number[] = [53];

export const DEFAULT_CAPTURE: CaptureOptions = {
  proxyUid: 1337,
  inboundPort: 15006,
  outboundPort: 15001,
  includeInboundPorts: '*',
  excludeInboundPorts: [],
  excludeOutboundPorts: [],
  excludeOutboundCidrs: [],
  includeOutboundCidrs: '*',
};

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

function items(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** A TCP port 1–65535. */
export function parsePort(text: string): Parsed<number> {
  const n = /^\d{1,5}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  return n >= 1 && n <= 65535 ? { ok: true, value: n } : { ok: false, error: `invalid port "${text}" (expected 1-65535)` };
}

/** `"8080, 9090"` → `[8080, 9090]`; an empty string is an empty list. Duplicates are dropped. */
export function parsePortList(text: string): Parsed<number[]> {
  const out: number[] = [];
  for (const item of items(text)) {
    const p = parsePort(item);
    if (!p.ok) return p;
    if (!out.includes(p.value)) out.push(p.value);
  }
  return { ok: true, value: out };
}

/** `'*'` or a port list. */
export function parsePortSelection(text: string): Parsed<'*' | number[]> {
  return text.trim() === '*' ? { ok: true, value: '*' } : parsePortList(text);
}

/** `10.0.0.0/8`, `fd00::/8`, or a bare address (a /32 or /128). */
export function parseCidr(text: string): Parsed<Cidr> {
  const t = text.trim();
  const slash = t.indexOf('/');
  const address = slash < 0 ? t : t.slice(0, slash);
  const kind = net.isIP(address);
  if (kind === 0) return { ok: false, error: `invalid CIDR "${text}" (expected e.g. 10.0.0.0/8 or fd00::/8)` };
  const family: Family = kind === 4 ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(max) : t.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return { ok: false, error: `invalid prefix length in "${text}" (expected 0-${max})` };
  return { ok: true, value: { family, text: `${address.toLowerCase()}/${prefix}` } };
}

export function parseCidrList(text: string): Parsed<Cidr[]> {
  const out: Cidr[] = [];
  for (const item of items(text)) {
    const c = parseCidr(item);
    if (!c.ok) return c;
    if (!out.some((o) => o.text === c.value.text)) out.push(c.value);
  }
  return { ok: true, value: out };
}

/** `'*'` or a CIDR list. */
export function parseCidrSelection(text: string): Parsed<'*' | Cidr[]> {
  return text.trim() === '*' ? { ok: true, value: '*' } : parseCidrList(text);
}
