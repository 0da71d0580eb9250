/**
 * The string patterns of authorization rules (Istio's): exact, `prefix*`, `*suffix`, or `*` alone
 * (anything present). A `*` anywhere else is malformed — `checkPattern` says so for `validate`.
 * Principals may be written as full SPIFFE IDs (`spiffe://cluster.local/ns/a/sa/b`) or as Istio
 * writes them, without the scheme (`cluster.local/ns/a/sa/b`); both match the peer's SPIFFE ID.
 */

export type Pattern =
  | { readonly kind: 'any' }
  | { readonly kind: 'exact' | 'prefix' | 'suffix'; readonly value: string };

/** Undefined when `p` is well-formed, else why not. */
export function checkPattern(p: string): string | undefined {
  if (p === '') return 'an empty pattern matches nothing';
  if (p === '*') return undefined;
  const inner = p.slice(p.startsWith('*') ? 1 : 0, p.endsWith('*') ? -1 : undefined);
  if (p.startsWith('*') && p.endsWith('*')) return `${JSON.stringify(p)}: a wildcard at one end only (exact, prefix*, *suffix or *)`;
  if (inner.includes('*')) return `${JSON.stringify(p)}: "*" only at either end (exact, prefix*, *suffix or *)`;
  return undefined;
}

/** A well-formed pattern (see `checkPattern`) compiled. */
export function compilePattern(p: string): Pattern {
  if (p === '*') return { kind: 'any' };
  if (p.endsWith('*')) return { kind: 'prefix', value: p.slice(0, -1) };
  if (p.startsWith('*')) return { kind: 'suffix', value: p.slice(1) };
  return { kind: 'exact', value: p };
}

export function matches(pattern: Pattern, s: string): boolean {
  switch (pattern.kind) {
    case 'any': return true;
    case 'exact': return s === pattern.value;
    case 'prefix': return s.startsWith(pattern.value);
    case 'suffix': return s.endsWith(pattern.value);
  }
}

/** A principal as written → the pattern on full SPIFFE IDs (the scheme added to Istio's short form). */
export function principalPattern(p: string): string {
  return p.startsWith('spiffe://') || p.startsWith('*') ? p : `spiffe://${p}`;
}

export function describePattern(p: Pattern): string {
  return p.kind === 'any' ? '*' : p.kind === 'prefix' ? `${p.value}*` : p.kind === 'suffix' ? `*${p.value}` : p.value;
}
