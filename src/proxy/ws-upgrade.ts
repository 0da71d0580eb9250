/**
 * WebSocket (and any other Upgrade) tunnels through http-proxy-3's `ws`, for the engines that are not
 * built on it. http-proxy-3 is imported on the first upgrade only: a sidecar that never sees one
 * never loads it (~15 MB of RSS). Until the import resolves the client socket stays paused — Node's
 * server hands it over with `readableFlowing = null` — so no byte is lost in the wait.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProxyServer } from 'http-proxy-3';

export class LazyUpgrader {
  private proxy: Promise<ProxyServer> | undefined;
  private closed = false;

  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, target: URL, onError: (err: Error) => void): void {
    this.proxy ??= import('http-proxy-3').then(({ createProxyServer }) => {
      const proxy = createProxyServer({ xfwd: false, prependPath: false });
      proxy.on('error', () => {}); // errors of a call with a callback go to the callback; never throw
      return proxy;
    });
    this.proxy.then((proxy) => {
      if (this.closed) { socket.destroy(); return; }
      proxy.ws(req, socket, head, { target }, (err) => onError(err));
    }, (err: Error) => onError(err));
  }

  close(): void {
    this.closed = true;
    void this.proxy?.then((p) => { p.close(); p.removeAllListeners(); }, () => {});
  }
}
