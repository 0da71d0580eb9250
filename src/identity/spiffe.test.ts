import { describe, expect, it } from 'vitest';
import { parseSpiffeId, sanEntries, uriSans } from './spiffe.js';

describe('parseSpiffeId', () => {
  it('reads a Kubernetes workload ID: trust domain, namespace, service account', () => {
    expect(parseSpiffeId('spiffe://cluster.local/ns/shop/sa/frontend')).toEqual({
      id: 'spiffe://cluster.local/ns/shop/sa/frontend', trustDomain: 'cluster.local', path: '/ns/shop/sa/frontend', namespace: 'shop', serviceAccount: 'frontend',
    });
  });

  it('takes other paths and the trust domain alone, without a namespace', () => {
    expect(parseSpiffeId('spiffe://example.org/billing/payments')).toMatchObject({ trustDomain: 'example.org', path: '/billing/payments', namespace: undefined });
    expect(parseSpiffeId('spiffe://example.org')).toMatchObject({ trustDomain: 'example.org', path: '' });
  });

  it.each([
    ['http://cluster.local/ns/a/sa/b', 'starts with spiffe://'],
    ['spiffe:///ns/a/sa/b', 'trust domain is empty'],
    ['spiffe://Cluster.Local/ns/a', 'lower-case'],
    ['spiffe://cluster.local:8443/ns/a', 'port'],
    ['spiffe://user@cluster.local/ns/a', 'lower-case'],
    ['spiffe://cluster.local/ns/a/', 'trailing slash'],
    ['spiffe://cluster.local/ns//sa/b', 'empty segment'],
    ['spiffe://cluster.local/ns/../sa/b', '".."'],
    ['spiffe://cluster.local/ns/a?x=1', 'character other than'],
    ['spiffe://cluster.local/ns/a b', 'character other than'],
  ])('refuses %s', (id, why) => {
    const r = parseSpiffeId(id);
    expect(typeof r).toBe('string');
    expect(r).toContain(why);
  });
});

describe('SAN text as node:crypto prints it', () => {
  it('splits entries, keeping only URIs for uriSans', () => {
    const text = 'DNS:reviews.shop.svc, URI:spiffe://cluster.local/ns/shop/sa/reviews, IP Address:10.0.0.1';
    expect(sanEntries(text)).toEqual([
      { type: 'DNS', value: 'reviews.shop.svc' }, { type: 'URI', value: 'spiffe://cluster.local/ns/shop/sa/reviews' }, { type: 'IP Address', value: '10.0.0.1' },
    ]);
    expect(uriSans(text)).toEqual(['spiffe://cluster.local/ns/shop/sa/reviews']);
  });

  it('reads a quoted value whole: a comma inside cannot forge a second entry', () => {
    expect(sanEntries('URI:"spiffe://a/x, URI:spiffe://cluster.local/ns/a/sa/b", DNS:x')).toEqual([
      { type: 'URI', value: 'spiffe://a/x, URI:spiffe://cluster.local/ns/a/sa/b' }, { type: 'DNS', value: 'x' },
    ]);
  });

  it('is empty for no SANs', () => {
    expect(uriSans(undefined)).toEqual([]);
    expect(uriSans('')).toEqual([]);
  });
});
