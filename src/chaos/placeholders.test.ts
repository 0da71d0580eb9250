import { describe, expect, it } from 'vitest';
import { checkPlaceholders, checkPlaceholdersIn, fillPlaceholders, fillText, type EndpointTable } from './placeholders.js';

const table: EndpointTable = {
  reviews: [{ address: '127.0.0.1:1001', labels: { version: 'v1' } }, { address: '127.0.0.1:1002', labels: { version: 'v2' } }],
  'ratings.v1': [{ address: '127.0.0.1:2001', labels: {} }],
};

describe('placeholders', () => {
  it('fills one address, or a whole endpoint list in place of a string', () => {
    expect(fillPlaceholders({
      upstreams: {
        reviews: { endpoints: '${endpoints.reviews}' },
        ratings: { endpoints: [{ address: '${upstreams.ratings.v1[0]}' }] },
      },
    }, table)).toEqual({
      upstreams: {
        reviews: { endpoints: [{ address: '127.0.0.1:1001', labels: { version: 'v1' } }, { address: '127.0.0.1:1002', labels: { version: 'v2' } }] },
        ratings: { endpoints: [{ address: '127.0.0.1:2001' }] },
      },
    });
  });

  it('splices the replicas of several fake upstreams into one list', () => {
    expect(fillPlaceholders({ endpoints: ['${endpoints.ratings.v1}', { address: '10.0.0.1:80' }, '${endpoints.reviews}'] }, table)).toEqual({
      endpoints: [
        { address: '127.0.0.1:2001', labels: {} }, { address: '10.0.0.1:80' },
        { address: '127.0.0.1:1001', labels: { version: 'v1' } }, { address: '127.0.0.1:1002', labels: { version: 'v2' } },
      ],
    });
  });

  it('fills policy text without moving lines', () => {
    const text = 'a: "${upstreams.reviews[1]}"\nb: ${endpoints.ratings.v1}\nc: 1\n';
    const filled = fillText(text, table);
    expect(filled).toBe('a: "127.0.0.1:1002"\nb: [{"address":"127.0.0.1:2001","labels":{}}]\nc: 1\n');
    expect(filled.split('\n')).toHaveLength(text.split('\n').length);
  });

  it('reports unknown upstreams, missing or out-of-range indexes', () => {
    const replicas = { reviews: 2 };
    expect(checkPlaceholders('${upstreams.reviews[1]} ${endpoints.reviews}', replicas)).toEqual([]);
    expect(checkPlaceholders('${upstreams.nope[0]}', replicas)).toEqual(['${upstreams.nope[0]}: no fake upstream "nope" in environment.local.upstreams']);
    expect(checkPlaceholders('${upstreams.reviews[2]}', replicas)).toEqual(['${upstreams.reviews[2]}: "reviews" has 2 replica(s), indexes 0–1']);
    expect(checkPlaceholders('${upstreams.reviews}', replicas)[0]).toMatch(/name a replica/);
    expect(checkPlaceholders('${endpoints.reviews[0]}', replicas)[0]).toMatch(/stands for every replica/);
  });

  it('points at the key holding a bad placeholder', () => {
    expect(checkPlaceholdersIn({ upstreams: { a: { endpoints: [{ address: '${upstreams.x[0]}' }] } } }, {}, ['policy']))
      .toEqual([{ path: ['policy', 'upstreams', 'a', 'endpoints', 0, 'address'], message: '${upstreams.x[0]}: no fake upstream "x" in environment.local.upstreams' }]);
  });
});
