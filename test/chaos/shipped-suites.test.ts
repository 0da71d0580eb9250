/**
 * The suites shipped in chaos/ are valid — schema, references, and the policies they carry (inline
 * or files, placeholders filled) — so `npm run chaos` in CI fails only on behaviour, never on a typo.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, loadSuiteFile } from '../../src/chaos/suite-load.js';
import { ROOT } from '../helpers/sidecar.js';

const dir = path.join(ROOT, 'chaos');
const suites = (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort();

describe('shipped chaos suites', () => {
  it('cover the scenarios CI relies on', () => {
    expect(suites).toEqual(expect.arrayContaining([
      'retries-absorb-aborts.yaml', 'dead-endpoint-ejected.yaml', 'breaker-opens-and-closes.yaml', 'latency-shifts-traffic.yaml',
      'hanging-upstream-bounded.yaml', 'blue-green-flip.yaml', 'reload-storm.yaml', 'drain-on-sigterm.yaml', 'zone-failover.yaml',
      'fleet-rollback.yaml',
    ]));
  });

  it.each(suites)('%s is valid', async (file) => {
    const r = await loadSuiteFile(path.join(dir, file));
    expect(r.ok ? [] : r.errors.map(formatDiagnostic)).toEqual([]);
  });
});
