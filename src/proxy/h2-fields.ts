/**
 * HTTP/2 heads as flat field lists (`[name, value, name, value, …]`), which node:http2's `request`
 * and `respond` take as they are since Node 24 — an object they first copy into one.
 */

/** Appends one header to a flat list: a repeated field (an array value) as one pair per value. */
export function pushField(out: string[], name: string, v: string | readonly string[] | number | undefined): void {
  if (typeof v === 'string') out.push(name, v);
  else if (typeof v === 'number') out.push(name, String(v));
  else if (v !== undefined) for (const one of v) out.push(name, one);
}
