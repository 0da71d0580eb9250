/**
 * Writes a `ProxyResponse` to the client. Upstream bodies stream through `relay` (pipeline semantics,
 * see relay.ts), so a slow client back-pressures the upstream, a client that leaves destroys the upstream response, and an
 * upstream that dies mid-body destroys the client's socket: a truncated body is never presented as
 * complete (no terminating chunk, or fewer bytes than Content-Length).
 */
import type { ServerResponse } from 'node:http';
import { addFlag, type ProxyResponse, type RequestContext } from '../core/context.js';
import { cleanResponseHeaders } from './headers.js';
import { relay } from './relay.js';

export function writeResponse(res: ServerResponse, resp: ProxyResponse, ctx: RequestContext, closeConnection: boolean, done: () => void): void {
  if (res.destroyed) {
    if (!Buffer.isBuffer(resp.body)) resp.body.destroy();
    addFlag(ctx, 'DC');
    done();
    return;
  }
  const headers = cleanResponseHeaders(resp.headers);
  if (ctx.flags.length > 0) headers['x-pilotfish-flags'] = ctx.flags.join(',');
  if (closeConnection) headers.connection = 'close';
  res.writeHead(resp.status, headers);
  if (Buffer.isBuffer(resp.body)) {
    res.end(resp.body);
    done();
    return;
  }
  relay(resp.body, res, (err) => {
    // Either side may have ended it: the upstream's stream errored (reset mid-body), or the client left.
    if (err) addFlag(ctx, (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE' ? 'DC' : 'UC');
    done();
  });
}
