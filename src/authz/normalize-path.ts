/**
 * The path authorization matches on (Istio's `BASE` normalization, Envoy's `normalize_path` +
 * `merge_slashes`): percent-encoded unreserved characters decoded (`%61` → `a`), runs of slashes
 * merged, `.` and `..` segments resolved (RFC 3986 §5.2.4), the query left out. So `/./admin`,
 * `//admin` and `/%61dmin` are all `/admin` to a rule — a deny on `/admin*` cannot be stepped
 * around by spelling, and an allow on `/public*` does not admit `/public/../admin`. The request is
 * forwarded as it came; only the decision uses this form. Encoded slashes (`%2F`) stay encoded: an
 * app that decodes them sees another path than any proxy can, and Istio leaves them too.
 */

const UNRESERVED = /%(4[1-9A-F]|5[0-9A]|6[1-9A-F]|7[0-9A]|3[0-9]|2D|2E|5F|7E)/gi;

export function normalizePath(raw: string): string {
  const q = raw.indexOf('?');
  let path = q < 0 ? raw : raw.slice(0, q);
  const h = path.indexOf('#');
  if (h >= 0) path = path.slice(0, h);
  // The common case — nothing to decode, merge or resolve — returns the path itself.
  if (!path.includes('%') && !path.includes('//') && !path.includes('/.')) return path;
  if (path.includes('%')) path = path.replace(UNRESERVED, (m) => String.fromCharCode(parseInt(m.slice(1), 16)));
  const out: string[] = [];
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (s === '..') { out.pop(); if (last) out.push(''); } else if (s === '.') { if (last) out.push(''); } else if (s !== '' || last) out.push(s);
  }
  return `/${out.join('/')}`;
}
