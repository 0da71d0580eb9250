import { describe, expect, it } from 'vitest';
import { compileTiering, formatLocality, parseLocality, tierLabel } from './locality.js';

describe('compileTiering', () => {
  const t = compileTiering({ region: 'r1', zone: 'a' }, ['r3', 'r2', 'r1', 'r3']);

  it('orders tiers nearest first: zone, region, failover regions (deduplicated, own region dropped), any', () => {
    expect(t.tiers.map(tierLabel)).toEqual(['zone a', 'region r1', 'failover r3', 'failover r2', 'any']);
  });

  it.each([
    [{ region: 'r1', zone: 'a' }, 'zone a'],
    [{ zone: 'a' }, 'zone a'],                    // a zone name alone is enough
    [{ region: 'r2', zone: 'a' }, 'failover r2'], // zone a of another region is not ours
    [{ region: 'r1', zone: 'b' }, 'region r1'],
    [{ region: 'r1' }, 'region r1'],
    [{ region: 'r3', zone: 'x' }, 'failover r3'],
    [{ region: 'r2' }, 'failover r2'],
    [{ region: 'r9' }, 'any'],                    // not in failover
    [{ zone: 'b' }, 'any'],                       // a foreign zone without a region
    [{}, 'any'],
    [{ version: 'v1' }, 'any'],
  ])('%j → %s', (labels, want) => {
    expect(tierLabel(t.tiers[t.tierOf(labels)]!)).toBe(want);
  });

  it('without a zone of its own the sidecar starts at its region', () => {
    const r = compileTiering({ region: 'r1' });
    expect(r.tiers.map(tierLabel)).toEqual(['region r1', 'any']);
    expect(r.tierOf({ region: 'r1', zone: 'a' })).toBe(0);
    expect(r.tierOf({ region: 'r2' })).toBe(1);
  });

  it('a sidecar that does not know its place has one tier', () => {
    const u = compileTiering(undefined, ['r2']);
    expect(u.tiers.map(tierLabel)).toEqual(['any']);
    expect(u.tierOf({ region: 'r1', zone: 'a' })).toBe(0);
  });
});

describe('parseLocality', () => {
  it.each([
    ['us-east-1/us-east-1a', { region: 'us-east-1', zone: 'us-east-1a' }],
    ['us-east-1', { region: 'us-east-1' }],
    ['us-east-1/', { region: 'us-east-1' }],
    [' r1 / a ', { region: 'r1', zone: 'a' }],
    ['/', undefined],
    ['', undefined],
  ])('%j → %j', (text, want) => {
    expect(parseLocality(text)).toEqual({ ok: true, locality: want });
  });

  it.each(['/a', 'r/z/sub', 'a/b/c/d'])('%j is an error', (text) => {
    const r = parseLocality(text);
    expect(r.ok).toBe(false);
  });

  it('formats back', () => {
    expect(formatLocality({ region: 'r1', zone: 'a' })).toBe('r1/a');
    expect(formatLocality({ region: 'r1' })).toBe('r1');
  });
});
