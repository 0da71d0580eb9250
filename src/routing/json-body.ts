/**
 * JSON bodies for `jsonBody` conditions. The proxy buffers a request body only when some route could
 * depend on it (`Router.needsBody`), at most `JSON_BODY_LIMIT` bytes of a JSON content type, parses it
 * with `parseJsonBody`, and passes the result as `MatchInput.json`. Anything else — no body, a larger
 * body, another content type, invalid JSON — leaves `json` undefined, and every jsonBody condition
 * then simply fails.
 */

/** Largest body buffered for jsonBody matching (bytes): 64 KiB, SPEC §4. */
export const JSON_BODY_LIMIT = 64 * 1024;

/** `application/json`, `application/problem+json`, … with any parameters; case-insensitive. */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semi = contentType.indexOf(';');
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/**
 * Parses a buffered body for matching; undefined when it is not JSON, larger than the limit, or
 * malformed. A parse failure is the client's problem, not the router's: the request is still routed
 * (by the routes without jsonBody conditions) and forwarded untouched.
 */
export function parseJsonBody(body: Uint8Array, contentType: string | undefined): unknown {
  if (!isJsonContentType(contentType) || body.byteLength > JSON_BODY_LIMIT || body.byteLength === 0) return undefined;
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) as unknown;
  } catch {
    return undefined;
  }
}

/** A dotted path (`order.items.0.sku`) split once at compile time. */
export type JsonPath = readonly string[];

export function compileJsonPath(dotted: string): JsonPath {
  return dotted.split('.');
}

const INDEX = /^(0|[1-9][0-9]*)$/;

/**
 * The value at `path`, or undefined when any step is missing. Only own properties are followed, so
 * `__proto__` or `constructor` in a policy path can never reach into prototypes; numeric steps index
 * arrays.
 */
export function lookupJsonPath(root: unknown, path: JsonPath): unknown {
  let v = root;
  for (let i = 0; i < path.length; i++) {
    if (v === null || typeof v !== 'object') return undefined;
    const step = path[i]!;
    if (Array.isArray(v)) {
      if (!INDEX.test(step)) return undefined;
      v = v[Number(step)];
    } else {
      if (!Object.hasOwn(v, step)) return undefined;
      v = (v as Record<string, unknown>)[step];
    }
  }
  return v;
}

/**
 * The string a string condition compares with: strings as they are, numbers, booleans and null as
 * written in JSON (so `exact: "5"` matches `5`), objects and arrays as no value at all.
 */
export function jsonScalar(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string': return v;
    case 'number': case 'boolean': return String(v);
    case 'object': return v === null ? 'null' : undefined;
    default: return undefined;
  }
}
