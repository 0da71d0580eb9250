/**
 * `GET /explain?url=http://host/path&method=GET&direction=outbound&header=x-user:42` (header
 * repeatable; `&principal=spiffe://…` for inbound authorization): the decision for that request on the live snapshot, including current health and
 * ejections in the destination's eligible endpoints. Sends nothing.
 */
import { explainRequest } from '../explain/index.js';
import type { Snapshot } from '../core/snapshot.js';
import type { AdminHandler } from './target.js';

export function explainRoute(current: () => Snapshot): [RegExp, { methods: Record<string, AdminHandler> }] {
  return [/^\/explain$/, { methods: {
    GET: (req) => {
      const q = new URL(req.url ?? '/', 'http://admin').searchParams;
      const url = q.get('url');
      if (!url || !/^http:\/\//i.test(url)) return { status: 400, body: { error: 'url: expected an absolute http:// URL' } };
      const direction = q.get('direction') ?? 'outbound';
      if (direction !== 'outbound' && direction !== 'inbound') return { status: 400, body: { error: 'direction: outbound or inbound' } };
      const headers: Record<string, string> = {};
      for (const h of q.getAll('header')) {
        const i = h.indexOf(':');
        if (i <= 0) return { status: 400, body: { error: `header: expected "name: value", got ${JSON.stringify(h)}` } };
        headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
      }
      try {
        return { status: 200, body: explainRequest(current(), { url, method: q.get('method') ?? 'GET', headers, direction, sourceIp: q.get('sourceIp') ?? undefined, principal: q.get('principal') ?? undefined }) };
      } catch (err) {
        return { status: 400, body: { error: (err as Error).message } };
      }
    },
  } }];
}
