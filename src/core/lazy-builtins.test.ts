import { constants } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { H2, http2, tls } from './lazy-builtins.js';

describe('lazy built-ins', () => {
  it('H2 holds node:http2\'s own constants', () => {
    expect(H2).toEqual({
      INTERNAL_ERROR: constants.NGHTTP2_INTERNAL_ERROR,
      REFUSED_STREAM: constants.NGHTTP2_REFUSED_STREAM,
      CANCEL: constants.NGHTTP2_CANCEL,
      FLAG_END_STREAM: constants.NGHTTP2_FLAG_END_STREAM,
    });
  });

  it('hands back Node\'s modules themselves', async () => {
    expect(http2()).toBe((await import('node:http2')).default);
    expect(tls()).toBe((await import('node:tls')).default);
  });
});
