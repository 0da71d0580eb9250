/**
 * Reads the Prometheus text exposition format (what `/metrics` serves) into plain samples. Only what
 * hypotheses need: metric name, labels, value. Comments (`# HELP`, `# TYPE`) and timestamps are
 * skipped; label values are unescaped (`\\`, `\"`, `\n`).
 */

export interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export function parsePromText(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const sample = parseLine(line);
    if (sample) out.push(sample);
  }
  return out;
}

function parseLine(line: string): MetricSample | undefined {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
  if (!name) return undefined;
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    const end = parseLabels(line, i + 1, labels);
    if (end < 0) return undefined;
    i = end;
  }
  const value = parseValue(line.slice(i).trim().split(/\s+/)[0] ?? '');
  return value === undefined ? undefined : { name, labels, value };
}

/** Parses `k="v",…}` from `start`; returns the index after `}`, or -1 when malformed. */
function parseLabels(line: string, start: number, into: Record<string, string>): number {
  let i = start;
  for (;;) {
    while (line[i] === ' ' || line[i] === ',') i++;
    if (line[i] === '}') return i + 1;
    const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i))?.[0];
    if (!key || line[i + key.length] !== '=' || line[i + key.length + 1] !== '"') return -1;
    i += key.length + 2;
    let value = '';
    while (i < line.length && line[i] !== '"') {
      if (line[i] === '\\') {
        const next = line[i + 1];
        value += next === 'n' ? '\n' : (next ?? '');
        i += 2;
      } else {
        value += line[i++];
      }
    }
    if (line[i] !== '"') return -1;
    into[key] = value;
    i++;
  }
}

function parseValue(text: string): number | undefined {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const v = Number(text);
  return text !== '' && !Number.isNaN(v) ? v : undefined;
}
