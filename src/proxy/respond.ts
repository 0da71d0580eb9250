/**
 * Writes a `ProxyResponse` to the client. Upstream bodies stream through `stream.pipeline`, so a slow
 * client back-pressures the upstream, a client that leaves destroys the upstream response, and an
 * upstream that dies mid-body destroys the client's socket: a truncated body is never presented as
 * complete (no terminating chunk, or fewer bytes than Content-Length).
 */
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { addFlag, type ProxyResponse, type RequestContext } from '../core/context.js';
import { cleanResponseHeaders } from './headers.js';

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
  const body = resp.body;
  let upstreamFailed = false;
  body.once('error', () => { upstreamFailed = true; });
  pipeline(body, res, (err) => {
    if (err) {
      // Either side may have ended it: the upstream's stream errored (reset mid-body), or the client left.
      addFlag(ctx, upstreamFailed ? 'UC' : 'DC');
      res.destroy();
    }
    done();
  });
}
