import { describe, expect, it } from 'vitest';
import type { RoutePolicy } from '../config/index.js';
import { compileRouter, explainRoutes, type MatchInput } from './router.js';

function route(name: string, match: RoutePolicy['match'], priority = 0, direction: 'inbound' | 'outbound' = 'outbound'): RoutePolicy {
  return { name, direction, match, priority, timeout: 15_000 } as RoutePolicy;
}

const routes = [
  route('reviews-testers', { host: 'reviews', path: { prefix: '/reviews' }, headers: { 'x-canary': { exact: 'true' } } }, 10),
  route('reviews-json', { host: 'reviews', path: { prefix: '/reviews' }, method: ['POST'], jsonBody: { 'order.priority': { exact: 'high' } } }),
  route('reviews', { host: 'reviews', path: { prefix: '/' } }),
  route('ratings', { host: 'ratings' }),
  route('wild', { host: '*.svc', path: { regex: '/r.*' } }),
  route('fallback', {}),
  route('inbound-only', {}, 0, 'inbound'),
];
const router = compileRouter(routes.map((policy, i) => ({ policy, value: i })));
const input = (more: Partial<MatchInput> = {}): MatchInput => ({ host: 'reviews', path: '/reviews/1', query: '', method: 'GET', headers: {}, ...more });

describe('explainRoutes', () => {
  it('lists every route of the direction in the order considered, with the first failing check', () => {
    const x = explainRoutes(router, 'outbound', input({ headers: { 'x-canary': 'false' } }));
    expect(x.winner).toEqual({ name: 'reviews', index: 2, value: 2 });
    expect(x.considered.map((v) => [v.name, v.outcome])).toEqual([
      ['reviews-testers', 'no-match'],
      ['reviews-json', 'no-match'],
      ['reviews', 'winner'],
      ['fallback', 'matched'],
      ['ratings', 'no-match'],
      ['wild', 'no-match'],
    ]);
    const [testers, json, , , ratings] = x.considered;
    expect(testers!.failed).toEqual({ check: 'header', condition: 'header x-canary exact "true"', actual: 'false' });
    expect(json!.failed).toEqual({ check: 'method', condition: 'method in [POST]', actual: 'GET' });
    expect(ratings!.failed).toEqual({ check: 'host', condition: 'host "ratings"', actual: 'reviews' });
  });

  it('says when a jsonBody condition failed for want of a body', () => {
    const x = explainRoutes(router, 'outbound', input({ method: 'POST' }));
    const json = x.considered.find((v) => v.name === 'reviews-json')!;
    expect(json.failed).toEqual({ check: 'jsonBody', condition: 'jsonBody order.priority exact "high" (no JSON body buffered)', actual: undefined });
    const withBody = explainRoutes(router, 'outbound', input({ method: 'POST', json: { order: { priority: 'high' } } }));
    expect(withBody.winner?.name).toBe('reviews-json');
  });

  it('reports path failures and precedence facts', () => {
    const x = explainRoutes(router, 'outbound', input({ host: 'a.svc', path: '/x' }));
    const wild = x.considered[0]!;
    expect(wild).toMatchObject({ name: 'wild', host: 'wildcard', matchType: 'regex', priority: 0, conditionCount: 1 });
    expect(wild.failed).toEqual({ check: 'path', condition: 'path regex "/r.*"', actual: '/x' });
    expect(x.winner?.name).toBe('fallback');
  });

  it('has no winner when nothing matches', () => {
    const r = compileRouter([{ policy: route('only', { host: 'h' }), value: 0 }]);
    const x = explainRoutes(r, 'outbound', input());
    expect(x.winner).toBeUndefined();
    expect(x.considered).toHaveLength(1);
    expect(explainRoutes(r, 'inbound', input()).considered).toHaveLength(0);
  });
});
