/**
 * String hashing for sticky buckets and consistent-hash balancers: FNV-1a 64 over the UTF-8 bytes of
 * a string, then a murmur3-style finaliser. The result must be identical in every process of every
 * replica (a sticky user must land on the same canary bucket whichever sidecar serves them), so the
 * bytes hashed are defined (UTF-8, lone surrogates as U+FFFD like `TextEncoder`) rather than
 * engine-dependent. FNV-1a alone mixes its last bytes poorly into the low bits ("user-1" and
 * "user-2" differ only near the top), which `% 100` and ring positions would notice; the finaliser
 * spreads every input bit over the whole result.
 *
 * The 64-bit state is kept as two unsigned 32-bit halves in module variables: no BigInt, no
 * allocation per call. Everything here is synchronous, so sharing the scratch state is safe.
 */

const OFFSET_HI = 0xcbf29ce4;
const OFFSET_LO = 0x84222325;
/** FNV-1a 64 prime is 2^40 + 0x1b3. */
const PRIME_LO = 0x1b3;
const TWO_32 = 4294967296;

let hi = 0;
let lo = 0;

/** ⌊x · 0x1b3 / 2^32⌋ for a uint32 x, in small-integer arithmetic (no float division). */
function carry(x: number): number {
  return ((x >>> 16) * PRIME_LO + (((x & 0xffff) * PRIME_LO) >>> 16)) >>> 16;
}

function feed(byte: number): void {
  const x = (lo ^ byte) >>> 0;
  // (hi·2^32 + x)·(2^40 + 0x1b3) mod 2^64: x·2^40 lands in the high word as x << 8.
  hi = (Math.imul(hi, PRIME_LO) + (x << 8) + carry(x)) >>> 0;
  lo = Math.imul(x, PRIME_LO) >>> 0;
}

function feedString(s: string): void {
  // ASCII — nearly every key — runs on locals; the module state is touched once per string.
  let h = hi;
  let l = lo;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      const x = (l ^ c) >>> 0;
      h = (Math.imul(h, PRIME_LO) + (x << 8) + carry(x)) >>> 0;
      l = Math.imul(x, PRIME_LO) >>> 0;
    } else {
      hi = h; lo = l;
      i = feedNonAscii(s, i, c);
      h = hi; l = lo;
    }
  }
  hi = h;
  lo = l;
}

/** Feeds the UTF-8 bytes of the character at `i` (code unit `c`); returns the index of its last unit. */
function feedNonAscii(s: string, i: number, c: number): number {
  if (c < 0x800) { feed(0xc0 | (c >> 6)); feed(0x80 | (c & 0x3f)); return i; }
  if (c >= 0xd800 && c <= 0xdfff) {
    const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
    if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
      feed(0xf0 | (cp >> 18)); feed(0x80 | ((cp >> 12) & 0x3f)); feed(0x80 | ((cp >> 6) & 0x3f)); feed(0x80 | (cp & 0x3f));
      return i + 1;
    }
    c = 0xfffd; // a lone surrogate, as TextEncoder encodes it
  }
  feed(0xe0 | (c >> 12)); feed(0x80 | ((c >> 6) & 0x3f)); feed(0x80 | (c & 0x3f));
  return i;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Finalises the current state into 53 well-mixed bits (a safe integer). */
function finish53(): number {
  const a = fmix32((hi ^ fmix32(lo)) >>> 0);
  const b = fmix32((lo ^ Math.imul(a, 0x9e3779b1) ^ 0x27d4eb2f) >>> 0);
  return (a >>> 11) * TWO_32 + b;
}

/** Plain FNV-1a 64 of the UTF-8 bytes of `s`, as 16 hex digits (reference vectors; not the hot path). */
export function fnv1a64(s: string): string {
  hi = OFFSET_HI; lo = OFFSET_LO;
  feedString(s);
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

/** A well-mixed hash of `s` in [0, 2^53), stable across processes and platforms. */
export function hash53(s: string): number {
  hi = OFFSET_HI; lo = OFFSET_LO;
  feedString(s);
  return finish53();
}

/**
 * The hash of the pair (`a`, `b`) without building `a + sep + b`: a NUL byte separates them, so
 * ("ab", "c") and ("a", "bc") differ.
 */
export function hash53Pair(a: string, b: string): number {
  hi = OFFSET_HI; lo = OFFSET_LO;
  feedString(a);
  feed(0);
  feedString(b);
  return finish53();
}

/** A well-mixed 32-bit hash of `s` (ring positions, table slots). */
export function hash32(s: string): number {
  return hash53(s) % TWO_32;
}

/**
 * Writes `count` 32-bit hashes of (`s`, i) for i = 0…count-1 into `out` from `at`: the positions of a
 * ring-hash endpoint's virtual nodes. `s` is hashed once; each index then costs four byte steps.
 */
export function indexedHashes32(s: string, count: number, out: { [i: number]: number }, at: number): void {
  hi = OFFSET_HI; lo = OFFSET_LO;
  feedString(s);
  feed(0);
  const baseHi = hi;
  const baseLo = lo;
  for (let i = 0; i < count; i++) {
    hi = baseHi; lo = baseLo;
    feed(i & 0xff); feed((i >>> 8) & 0xff); feed((i >>> 16) & 0xff); feed(i >>> 24);
    out[at + i] = finish53() % TWO_32;
  }
}
