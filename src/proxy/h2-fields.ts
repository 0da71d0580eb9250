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

/**
 * A received head as an object, read from the flat list node:http2 received it as (the 'stream',
 * 'response' and 'trailers' events pass it after the object): the object node:http2 made of it
 * (`toHeaderObject`) is a null-prototype one in dictionary mode, which a `for…in` enumerates by
 * building and sorting its keys, each value then a megamorphic keyed load. Without the
 * pseudo-headers, and without the fields in `drop`. Undefined when a name comes twice (or is
 * `set-cookie`, an array there): node:http2 merged those (`cookie` with `; `, others with `, `),
 * and the caller copies its object instead, so what a layer sees does not depend on the way taken.
 */
export function receivedFields(raw: readonly string[], drop: ReadonlySet<string> | undefined): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.charCodeAt(0) === 58 /* : */ || drop?.has(name) === true) continue;
    if (out[name] !== undefined || name === 'set-cookie') return undefined;
    out[name] = raw[i + 1]!;
  }
  return out;
}
