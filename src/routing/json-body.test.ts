import { describe, expect, it } from 'vitest';
import { compileJsonPath, isJsonContentType, JSON_BODY_LIMIT, lookupJsonPath, parseJsonBody } from './json-body.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('parseJsonBody', () => {
  it('parses JSON of a JSON content type', () => {
    expect(parseJsonBody(bytes('{"a":{"b":1}}'), 'application/json; charset=utf-8')).toEqual({ a: { b: 1 } });
    expect(parseJsonBody(bytes('[1]'), 'application/problem+json')).toEqual([1]);
  });
  it.each<[string, Uint8Array, string | undefined]>([
    ['another content type', bytes('{"a":1}'), 'text/plain'],
    ['no content type', bytes('{"a":1}'), undefined],
    ['malformed JSON', bytes('{"a":'), 'application/json'],
    ['an empty body', bytes(''), 'application/json'],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), 'application/json'],
  ])('is undefined for %s', (_name, body, type) => {
    expect(parseJsonBody(body, type)).toBeUndefined();
  });
  it('is undefined above 64 KiB', () => {
    const big = `{"a":"${'x'.repeat(JSON_BODY_LIMIT)}"}`;
    expect(parseJsonBody(bytes(big), 'application/json')).toBeUndefined();
    expect(JSON_BODY_LIMIT).toBe(65_536);
  });
  it('recognises JSON content types only', () => {
    expect(isJsonContentType('Application/JSON')).toBe(true);
    expect(isJsonContentType('application/vnd.api+json')).toBe(true);
    expect(isJsonContentType('application/jsonp')).toBe(false);
    expect(isJsonContentType('text/json+x')).toBe(false);
  });
});

describe('lookupJsonPath', () => {
  const doc = { order: { priority: 'high', items: [{ sku: 'a' }, { sku: 'b' }], 'dotted.key': 1 }, n: null };
  it.each<[string, unknown]>([
    ['order.priority', 'high'],
    ['order.items.1.sku', 'b'],
    ['order.items.01.sku', undefined],
    ['order.items.length', undefined],
    ['order.missing.x', undefined],
    ['order.priority.length', undefined],
    ['n', null],
    ['n.x', undefined],
    ['order.toString', undefined],
    ['order.dotted.key', undefined],
  ])('%s', (path, want) => {
    expect(lookupJsonPath(doc, compileJsonPath(path))).toBe(want);
  });
});
