import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HealthChecker, OutlierDetector, type Probe } from '../resilience/index.js';
import { makeEndpoint, type Endpoint } from './endpoint.js';
import { EndpointViews } from './endpoint-views.js';

const members: Endpoint[] = [
  makeEndpoint('10.0.0.1:80', { region: 'r1', zone: 'a' }), makeEndpoint('10.0.0.2:80', { region: 'r1', zone: 'a' }),
  makeEndpoint('10.0.1.1:80', { region: 'r1', zone: 'b' }), makeEndpoint('10.0.2.1:80', { region: 'r2', zone: 'c' }),
];
const addresses = members.map((e) => e.address);
const A1 = addresses[0]!;

function outlier(): OutlierDetector {
  return new OutlierDetector(addresses, { consecutive5xx: 1, interval: 60_000, baseEjectionTime: 1_000, maxEjectionPercent: 100 });
}

describe('EndpointViews', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('hands out the same eligible array until something changes (no array per request)', () => {
    const od = outlier();
    const v = new EndpointViews(undefined, od, undefined);
    const first = v.eligible('', members);
    expect(first).toEqual(members);
    expect(v.eligible('', members)).toBe(first);
    od.record(A1, 503); // eject event
    const second = v.eligible('', members);
    expect(second.map((e) => e.address)).toEqual(addresses.slice(1));
    expect(v.eligible('', members)).toBe(second);
    od.dispose();
  });

  it('re-admits an ejected endpoint when its ejection time is up, with no event and no timer', () => {
    const od = outlier();
    const v = new EndpointViews(undefined, od, undefined);
    od.record(A1, 503);
    expect(v.eligible('', members)).toHaveLength(3);
    vi.advanceTimersByTime(999);
    expect(v.eligible('', members)).toHaveLength(3);
    vi.advanceTimersByTime(1);
    expect(v.eligible('', members)).toHaveLength(4);
    od.dispose();
  });

  it('follows health changes and new membership', async () => {
    let healthy = true;
    const probe: Probe = async () => healthy;
    const hc = new HealthChecker(addresses, probe, { interval: 100, timeout: 50, unhealthyThreshold: 1, healthyThreshold: 1 }, { random: () => 0.5 });
    const v = new EndpointViews(hc, undefined, undefined);
    expect(v.eligible('', members)).toHaveLength(4);
    healthy = false;
    hc.start();
    await vi.advanceTimersByTimeAsync(60);
    expect(v.eligible('', members)).toHaveLength(0);
    healthy = true;
    await vi.advanceTimersByTimeAsync(100);
    expect(v.eligible('', members)).toHaveLength(4);
    const fewer = members.slice(0, 2);
    expect(v.eligible('', fewer)).toEqual(fewer);
    hc.stop();
  });

  it('keeps the locality view in step: tiers, shares and per-tier arrays', () => {
    const od = outlier();
    const v = new EndpointViews(undefined, od, { self: { region: 'r1', zone: 'a' }, failover: ['r2'] });
    const view = v.view('', members)!;
    expect(view.describe().map((t) => [t.tier, t.share])).toEqual([['zone a', 100], ['region r1', 0], ['failover r2', 0], ['any', 0]]);
    od.record(A1, 503);
    const after = v.view('', members)!;
    expect(after.describe().map((t) => [t.tier, t.share])).toEqual([['zone a', 70], ['region r1', 30], ['failover r2', 0], ['any', 0]]);
    expect(after.eligible(0).map((e) => e.address)).toEqual([addresses[1]]);
    const lb = v.tierBalancer('', members, 0, false, () => ({ kind: 'random', pick: (l) => l[0], onRequestStart() {}, onRequestEnd() {} }));
    expect(v.tierBalancer('', members, 0, false, () => { throw new Error('made twice'); })).toBe(lb);
    od.dispose();
  });
});
