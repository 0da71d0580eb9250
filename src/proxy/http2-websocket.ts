/**
 * WebSockets over HTTP/2 (RFC 8441): the HTTP/2 edge announces `SETTINGS_ENABLE_CONNECT_PROTOCOL`,
 * and a stream that opens with `:method: CONNECT`, `:protocol: websocket` is routed as an HTTP/1.1
 * WebSocket upgrade is (`upgradeEndpoint`: the route it matches, one endpoint of its split) and
 * spoken to that endpoint as one: a `GET` with `Upgrade: websocket` and a `Sec-WebSocket-Key` of our
 * own (HTTP/2 has none). On the upstream's `101` — its `Sec-WebSocket-Accept` checked against our key
 * — the stream is answered `200` with the upstream's `Sec-WebSocket-Protocol`/`-Extensions`, and the
 * stream's DATA and the upstream socket are piped both ways, each pausing the other (HTTP/2 flow
 * control on one side, TCP on the other). Either side closing ends the other. An upstream that
 * refuses the upgrade has its answer passed on (a 2xx, or a wrong accept key: 502 `UC`); one that
 * cannot be reached gets 503 `UF`, one that does not answer within the route's timeout 504 `UT`.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from '../core/node-http.js';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { IncomingHttpHeaders as Http2Headers, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { RequestContext } from '../core/context.js';
import { connectFailure, isConnectError, noHealthyUpstream, noRoute, upstreamReset, upstreamTimeout, type ProxyError } from '../core/errors.js';
import { H2 } from '../core/lazy-builtins.js';
import { rescue } from '../pipeline/rescue.js';
import { unbracket } from './engine.js';
import { requestHeaders } from './http2-request.js';
import { upgradeEndpoint, type ListenerDeps } from './listener.js';
import { writeH2Response, type H2Sent } from './respond-h2.js';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Headers of the upstream's 101 that the client's 200 carries on (RFC 8441 §5: the rest are HTTP/1.1's own). */
const PASSED_ON = ['sec-websocket-protocol', 'sec-websocket-extensions'];

/** The stream is an extended CONNECT for a WebSocket (RFC 8441 §4). */
export function isWebSocketConnect(headers: Http2Headers): boolean {
  return headers[':method'] === 'CONNECT' && headers[':protocol'] === 'websocket';
}

/**
 * Tunnels one extended-CONNECT stream to a WebSocket endpoint over HTTP/1.1: `opened` once the
 * tunnel is up (it no longer counts as a request in flight for a drain, as an HTTP/1.1 upgrade does
 * not), `sent.done()` once it is over (the access log line: status 200, the bytes into and out of the tunnel).
 */
export function connectWebSocket(stream: ServerHttp2Stream, headers: Http2Headers, authority: string, path: string, ctx: RequestContext, sent: H2Sent, deps: ListenerDeps, opened: () => void): void {
  const fail = (err: ProxyError, status = err.status): void => {
    const answer = rescue(err, ctx, deps.log);
    writeH2Response(stream, { ...answer, status }, ctx, sent);
  };
  const out = requestHeaders(headers, authority);
  // A WebSocket upgrade is a GET (RFC 6455 §4.1): routes match it as they match an HTTP/1.1 one.
  const to = upgradeEndpoint(deps, authority, path, 'GET', out);
  if (!('endpoint' in to)) {
    fail(to.status === 404 ? noRoute(authority, path) : noHealthyUpstream(to.route));
    return;
  }
  const key = randomBytes(16).toString('base64');
  const target = to.endpoint;
  const upstream = http.request({
    host: unbracket(target.hostname),
    port: target.port || 80,
    method: 'GET',
    path,
    headers: { ...out, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': key, 'sec-websocket-version': out['sec-websocket-version'] ?? '13' },
    agent: false,
  });
  // The route's timeout bounds the handshake (an endpoint that takes the connection and never answers).
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; upstream.destroy(); }, to.timeoutMs);
  const clientGone = (): void => { upstream.destroy(); };
  stream.once('close', clientGone);
  const answered = (): void => { clearTimeout(timer); stream.off('close', clientGone); };
  upstream.on('error', (err) => {
    answered();
    if (!stream.headersSent) fail(timedOut ? upstreamTimeout(target.host, to.timeoutMs) : isConnectError(err) ? connectFailure(target.host, err) : upstreamReset(target.host, err));
  });
  upstream.on('response', (res) => {
    // Refused (no 101): its answer is the client's — but a 2xx would read as the tunnel's 200
    // (a server that ignored the Upgrade), so that one is a 502.
    answered();
    res.on('error', () => {});
    const status = res.statusCode ?? 502;
    if (status < 300) {
      res.destroy();
      fail(upstreamReset(target.host, new Error(`the upstream answered the WebSocket upgrade with ${status}, not 101`)), 502);
      return;
    }
    writeH2Response(stream, { status, headers: res.headers, body: res }, ctx, sent);
  });
  upstream.on('upgrade', (res, socket: Socket, head: Buffer) => {
    answered();
    socket.on('error', () => {});
    if (stream.destroyed || stream.closed) { socket.destroy(); return; }
    if (res.headers['sec-websocket-accept'] !== createHash('sha1').update(key + WS_GUID).digest('base64')) {
      socket.destroy();
      fail(upstreamReset(target.host, new Error('the upstream answered the WebSocket upgrade with a wrong Sec-WebSocket-Accept')), 502);
      return;
    }
    try {
      stream.respond(accepted(res.headers));
    } catch {
      socket.destroy();
      stream.close();
      sent.done();
      return;
    }
    sent.status = 200;
    opened();
    tunnel(stream, socket, head, sent);
  });
  upstream.end();
}

function accepted(h: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':status': 200 };
  for (const name of PASSED_ON) if (h[name] !== undefined) out[name] = h[name];
  return out;
}

/**
 * Pipes the stream and the upstream socket both ways. An end on either side is passed on as an end
 * (END_STREAM, FIN); the upstream's reset resets the stream (CANCEL); the stream closed closes the
 * upstream socket, and the tunnel is over.
 */
function tunnel(stream: ServerHttp2Stream, socket: Socket, head: Buffer, sent: H2Sent): void {
  if (head.length > 0) { stream.write(head); sent.bytesOut += head.length; }
  socket.on('data', (c: Buffer) => { sent.bytesOut += c.length; });
  stream.on('data', (c: Buffer) => { sent.bytesIn += c.length; });
  socket.pipe(stream);
  stream.pipe(socket);
  socket.once('close', (hadError) => {
    if (stream.destroyed || stream.closed) return;
    if (hadError) stream.close(H2.CANCEL);
    else stream.end();
  });
  stream.once('close', () => {
    socket.destroy();
    sent.done();
  });
}
