// The relay's HTTP side: `GET /healthz`, `GET /metrics`, 404 for the rest, and the WebSocket upgrade
// on the relay's path. Until a socket's HTTP request is complete it is a handshake, bounded per
// address and in total and timed out (README §2), so a flood of half-open connections costs at most
// maxHandshakesPerAddress sockets per address for handshakeTimeoutMs each. Knows nothing of relay
// frames: a socket that upgrades is handed to `accept`.

import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { RelayLimits } from '../limits.ts';
import { prometheusText, type HandshakeRefusal, type RelayCounters, type RelayStats } from '../metrics.ts';
import type { RelayLogger } from './state.ts';

export interface RelayHttpOptions {
  readonly limits: RelayLimits;
  readonly log: RelayLogger;
  readonly counters: RelayCounters;
  /** The WebSocket path, e.g. '/v1'. */
  readonly path: string;
  /** What /healthz and /metrics report. */
  stats(): RelayStats;
  /** Takes over a socket upgraded on `path`. */
  accept(ws: WebSocket, req: http.IncomingMessage): void;
}

export interface RelayHttp {
  readonly server: http.Server;
  readonly wss: WebSocketServer;
  /** TCP connections whose HTTP request is not complete yet. */
  readonly pendingHandshakes: number;
}

export function createRelayHttp(o: RelayHttpOptions): RelayHttp {
  const { limits, log, counters, path } = o;
  const startedAt = Date.now();

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxMessageBytes,
    perMessageDeflate: false, // compressing ciphertext gains nothing and costs memory
    clientTracking: false,
  });

  const server = http.createServer(
    {
      // Node checks header and request time-outs on this period; the default (30 s) would let a
      // slow-loris hold sockets three times longer than handshakeTimeoutMs.
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(limits.handshakeTimeoutMs / 4))),
      headersTimeout: limits.handshakeTimeoutMs,
      requestTimeout: limits.handshakeTimeoutMs,
    },
    (req, res) => {
      const url = req.url ?? '/';
      if (req.method === 'GET' && url === '/healthz') {
        const s = o.stats();
        // A node cut off from NATS cannot reach hubs or phones on other nodes: take it out of rotation.
        const ok = s.cluster === undefined || s.cluster.connected;
        const body = JSON.stringify({
          ok,
          connections: s.connections,
          loggedIn: s.loggedIn,
          hubs: s.hubs,
          subscriptions: s.subscriptions,
          mailboxes: s.mailboxes,
          uptimeSeconds: Math.floor((Date.now() - startedAt) / 1000),
          cluster: s.cluster ? { node: s.cluster.node, connected: s.cluster.connected, peers: s.cluster.peers } : null,
        });
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
        return;
      }
      if (req.method === 'GET' && url === '/metrics') {
        res
          .writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'cache-control': 'no-store' })
          .end(prometheusText(o.stats()));
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found; a Vigil relay answers WebSocket on ${path}\n`);
    },
  );
  server.keepAliveTimeout = 5_000;

  const handshaking = new Map<string, number>();
  const pending = new WeakSet<Socket>();
  let pendingHandshakes = 0;
  const refuseHandshake = (reason: HandshakeRefusal): void => {
    counters.handshakeRefusals[reason] += 1;
    log.debug?.('handshake-refused', { reason });
  };
  const settle = (socket: Socket): void => {
    if (!pending.delete(socket)) return;
    pendingHandshakes -= 1;
    const address = socket.remoteAddress ?? 'unknown';
    const n = (handshaking.get(address) ?? 1) - 1;
    if (n <= 0) handshaking.delete(address);
    else handshaking.set(address, n);
  };
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const n = handshaking.get(address) ?? 0;
    if (n >= limits.maxHandshakesPerAddress || pendingHandshakes >= limits.maxConnections) {
      refuseHandshake('too-many-handshakes');
      socket.destroy();
      return;
    }
    handshaking.set(address, n + 1);
    pendingHandshakes += 1;
    pending.add(socket);
    socket.once('close', () => settle(socket));
  });
  server.on('request', (req: http.IncomingMessage) => settle(req.socket as Socket));
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
    const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    refuseHandshake(timedOut ? 'headers-timeout' : 'bad-request');
    if (socket.writable) {
      socket.end(
        timedOut
          ? 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'
          : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      );
    }
    socket.destroy();
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    settle(socket as Socket);
    socket.on('error', () => socket.destroy());
    const pathname = (req.url ?? '').split('?')[0];
    if (pathname !== path) {
      refuseHandshake('not-found');
      // Said in words for whoever reads it (curl, a proxy log); clients normalise an empty path to it.
      const body = `no Vigil relay at this URL; try ${path}\n`;
      socket.end(`HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => o.accept(ws, req));
  });

  return {
    server,
    wss,
    get pendingHandshakes() {
      return pendingHandshakes;
    },
  };
}
