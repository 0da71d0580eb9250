import { describe, expect, it } from 'vitest';
import { splitHostPort } from './host-port.js';

describe('splitHostPort', () => {
  it.each<[string, string, number | undefined]>([
    ['reviews', 'reviews', undefined],
    ['reviews:9080', 'reviews', 9080],
    ['10.0.0.1:80', '10.0.0.1', 80],
    ['[::1]:8080', '::1', 8080],
    ['[::1]', '::1', undefined],
    ['::1', '::1', undefined],
    ['host:http', 'host', undefined],
    ['host:70000', 'host', undefined],
    ['', '', undefined],
  ])('%s', (authority, host, port) => {
    expect(splitHostPort(authority)).toEqual([host, port]);
  });
});
