/** The `region/zone` option of `run` and `explain` (env `PILOTFISH_LOCALITY`, `--locality`). */
import { parseLocality, type Locality } from '../routing/index.js';

/** `region/zone` from the environment or a flag: undefined when empty (or `/`), false (reported) when malformed. */
export function localityOption(text: string, what: string): Locality | undefined | false {
  const r = parseLocality(text);
  if (r.ok) return r.locality;
  process.stderr.write(`${what}: ${r.error}\n`);
  return false;
}
