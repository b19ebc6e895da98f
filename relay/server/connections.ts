// The relay's WebSocket connections: the bounds on how many (in total, per address), the challenge
// and login (README §4: one connection per relay id), the rate limit, keepalive pings and idle
// time-out, and the outgoing queue with its policy (media and direct frames are refused past
// queueBytes; control frames may use controlSlackBytes more, past which the reader is too slow to
// keep). What a logged-in connection's frames mean is for whoever handles ConnectionEvents.

import type http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import {
  CONNECTION_ID_BYTES,
  NONCE_BYTES,
  RELAY_ERROR_CODES,
  RelayProtocolError,
  closesConnection,
  decodeClientMessage,
  encodeMessage,
  loginMessage,
  shortId,
  type ClientMessage,
  type RelayErrorCode,
  type ServerMessage,
} from '../codec.ts';
import { ed25519PublicKey, verifyEd25519 } from '../verify.ts';
import { toHex, type Connection, type LoggedInConnection, type PendingConnection, type RelayContext } from './state.ts';

/** How long shutdown() waits for close handshakes before terminating sockets. */
const SHUTDOWN_GRACE_MS = 1_000;

/**
 * How a frame queues: 'media' and 'direct' frames fit in queueBytes or are refused (the caller drops
 * or reports them); 'control' frames may use controlSlackBytes more.
 */
export type QueueKind = 'media' | 'direct' | 'control';

export interface ConnectionEvents {
  /** A login succeeded; `ready` is for the handler to send. */
  loggedIn(conn: LoggedInConnection): void;
  /** A valid frame of a logged-in connection, within its rate. */
  frame(conn: LoggedInConnection, m: ClientMessage, now: number): void;
  /** A logged-in connection is gone; `current` when it still held its relay id (it was not replaced). */
  left(conn: LoggedInConnection, current: boolean): void;
}

export class Connections {
  private readonly all = new Set<Connection>();
  private readonly byId = new Map<string, LoggedInConnection>();
  private readonly perAddress = new Map<string, number>();
  private readonly pingTimer: NodeJS.Timeout;
  private closing = false;

  constructor(
    private readonly ctx: RelayContext,
    /** The hosts a login may sign; undefined: the Host header of the upgrade request. */
    private readonly publicHosts: string[] | undefined,
    private readonly events: ConnectionEvents,
  ) {
    this.pingTimer = setInterval(() => this.pingAll(), Math.floor(ctx.limits.idleTimeoutMs / 2));
    this.pingTimer.unref();
  }

  get size(): number {
    return this.all.size;
  }

  get loggedIn(): number {
    return this.byId.size;
  }

  /** The connection logged in as relay id `idHex` on this node. */
  get(idHex: string): LoggedInConnection | undefined {
    return this.byId.get(idHex);
  }

  queuedBytes(): number {
    let n = 0;
    for (const conn of this.all) n += conn.ws.bufferedAmount;
    return n;
  }

  accept(ws: WebSocket, req: http.IncomingMessage): void {
    const { limits, counters, log } = this.ctx;
    ws.binaryType = 'nodebuffer';
    const address = req.socket.remoteAddress ?? 'unknown';
    ws.on('error', (err: Error & { code?: string }) => {
      // ws has already closed with 1009 for an oversized frame; this only counts it.
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') counters.closed('too-large');
      log.debug?.('socket-error', { code: err.code ?? 'unknown' });
    });
    if (this.closing) {
      ws.close(RELAY_ERROR_CODES['shutting-down'], 'shutting-down');
      return;
    }
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (this.all.size >= limits.maxConnections || fromAddress >= limits.maxConnectionsPerAddress) {
      counters.closed('too-many-connections');
      log.warn('connection-refused', { code: 'too-many-connections' });
      ws.close(RELAY_ERROR_CODES['too-many-connections'], 'too-many-connections');
      return;
    }
    this.perAddress.set(address, fromAddress + 1);
    const hostHeader = req.headers.host?.toLowerCase();
    const pending: PendingConnection = {
      loggedIn: false,
      ws,
      address,
      connectionId: randomBytes(CONNECTION_ID_BYTES),
      nonce: randomBytes(NONCE_BYTES),
      hosts: this.publicHosts ?? (hostHeader ? [hostHeader] : []),
      authTimer: setTimeout(() => this.closeWith(pending, 'auth-timeout'), limits.authTimeoutMs),
      alive: true,
      detached: false,
    };
    this.all.add(pending);
    // The socket's connection: the pending one until its login, the logged-in one after.
    let conn: Connection = pending;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      conn = this.onFrame(conn, data, isBinary);
    });
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('close', (code: number) => {
      this.detach(conn);
      log.debug?.('connection-closed', { id: idOf(conn), code });
    });
    this.send(pending, { type: 'challenge', nonce: pending.nonce, connectionId: pending.connectionId }, 'control');
  }

  /** Removes a connection from all state, once. Safe to call before or after the socket closes. */
  private detach(conn: Connection): void {
    if (conn.detached) return;
    conn.detached = true;
    this.all.delete(conn);
    const n = (this.perAddress.get(conn.address) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(conn.address);
    else this.perAddress.set(conn.address, n);
    if (!conn.loggedIn) {
      clearTimeout(conn.authTimer);
      return;
    }
    const current = this.byId.get(conn.idHex) === conn;
    if (current) this.byId.delete(conn.idHex);
    this.events.left(conn, current);
  }

  closeWith(conn: Connection, code: RelayErrorCode): void {
    if (!closesConnection(code)) throw new Error(`closeWith: ${code} does not close`);
    this.ctx.counters.closed(code);
    this.ctx.log.info('connection-closing', { id: idOf(conn), code });
    this.detach(conn);
    if (conn.ws.readyState === conn.ws.OPEN || conn.ws.readyState === conn.ws.CONNECTING) {
      conn.ws.close(RELAY_ERROR_CODES[code], code);
    }
  }

  private pingAll(): void {
    for (const conn of [...this.all]) {
      if (!conn.alive) {
        this.ctx.counters.closed('idle-timeout');
        this.ctx.log.info('connection-closing', { id: idOf(conn), code: 'idle-timeout' });
        this.detach(conn);
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }

  // --- sending ----------------------------------------------------------------------------------

  /** Queues a frame (see QueueKind); false when it was refused or the connection is gone. */
  sendBytes(conn: Connection, bytes: Uint8Array, kind: QueueKind): boolean {
    if (conn.detached || conn.ws.readyState !== conn.ws.OPEN) return false;
    const { limits, counters } = this.ctx;
    const queued = conn.ws.bufferedAmount;
    const room = kind === 'control' ? limits.queueBytes + limits.controlSlackBytes : limits.queueBytes;
    if (queued + bytes.length > room) {
      if (kind === 'control') this.closeWith(conn, 'slow-consumer');
      return false;
    }
    conn.ws.send(bytes, { binary: true });
    counters.bytesOut += bytes.length;
    counters.framesOut += 1;
    const after = conn.ws.bufferedAmount;
    if (after > counters.peakQueuedBytes) counters.peakQueuedBytes = after;
    return true;
  }

  send(conn: Connection, m: ServerMessage, kind: QueueKind): boolean {
    return this.sendBytes(conn, encodeMessage(m), kind);
  }

  ok(conn: Connection, requestId: number): void {
    if (requestId !== 0) this.send(conn, { type: 'ok', requestId }, 'control');
  }

  refuse(conn: Connection, requestId: number, code: RelayErrorCode): void {
    this.ctx.counters.refused(code);
    this.ctx.log.debug?.('refused', { id: idOf(conn), code });
    this.send(conn, { type: 'error', requestId, code }, 'control');
  }

  // --- frames -----------------------------------------------------------------------------------

  /** Handles one message of the socket; returns its connection after (the logged-in one after a login). */
  private onFrame(conn: Connection, data: RawData, isBinary: boolean): Connection {
    if (conn.detached) return conn;
    conn.alive = true;
    const { counters } = this.ctx;
    if (!isBinary || !Buffer.isBuffer(data)) {
      this.closeWith(conn, 'bad-frame');
      return conn;
    }
    counters.bytesIn += data.length;
    counters.framesIn += 1;
    let m: ClientMessage;
    try {
      m = decodeClientMessage(data);
    } catch (e) {
      if (!(e instanceof RelayProtocolError)) throw e;
      this.closeWith(conn, e.relayCode);
      return conn;
    }
    if (!conn.loggedIn) {
      if (m.type !== 'login') this.closeWith(conn, 'not-logged-in');
      else return this.login(conn, m.publicKey, m.signature) ?? conn;
      return conn;
    }
    if (!this.takeToken(conn)) {
      counters.drops['rate-limited'] += 1;
      this.refuse(conn, 'requestId' in m ? m.requestId : 0, 'rate-limited');
      return conn;
    }
    this.events.frame(conn, m, Date.now());
    return conn;
  }

  private takeToken(conn: LoggedInConnection): boolean {
    const now = Date.now();
    const rate = this.ctx.limits.maxMessagesPerSecond;
    conn.tokens = Math.min(rate, conn.tokens + ((now - conn.refilledAt) * rate) / 1000);
    conn.refilledAt = now;
    if (conn.tokens < 1) return false;
    conn.tokens -= 1;
    return true;
  }

  /** Checks a login; on success the logged-in connection takes the pending one's place and is returned. */
  private login(pending: PendingConnection, publicKey: Uint8Array, signature: Uint8Array): LoggedInConnection | undefined {
    const key = ed25519PublicKey(publicKey);
    const verified =
      key !== undefined &&
      pending.hosts.some((host) => {
        let message: Uint8Array;
        try {
          message = loginMessage(pending.nonce, pending.connectionId, host);
        } catch {
          return false; // a Host header too long to be a host
        }
        return verifyEd25519(key, message, signature);
      });
    if (!verified) {
      this.closeWith(pending, 'auth-failed');
      return undefined;
    }
    clearTimeout(pending.authTimer);
    const id = Uint8Array.from(publicKey);
    const idHex = toHex(id);
    const previous = this.byId.get(idHex);
    if (previous) this.closeWith(previous, 'replaced');
    const conn: LoggedInConnection = {
      loggedIn: true,
      ws: pending.ws,
      address: pending.address,
      alive: pending.alive,
      detached: false,
      id,
      idHex,
      key,
      loginAt: Date.now(),
      subs: new Map(),
      tokens: this.ctx.limits.maxMessagesPerSecond,
      refilledAt: Date.now(),
    };
    this.all.delete(pending);
    this.all.add(conn);
    this.byId.set(idHex, conn);
    this.ctx.log.info('logged-in', { id: shortId(id) });
    this.events.loggedIn(conn);
    return conn;
  }

  // --- shutdown ---------------------------------------------------------------------------------

  /** Refuses new sockets, closes every connection; resolves when all are gone (terminated after SHUTDOWN_GRACE_MS). */
  async shutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.pingTimer);
    const sockets = [...this.all].map((c) => c.ws);
    for (const conn of [...this.all]) this.closeWith(conn, 'shutting-down');
    await Promise.all(
      sockets.map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === ws.CLOSED) return resolve();
            const timer = setTimeout(() => ws.terminate(), SHUTDOWN_GRACE_MS);
            ws.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
  }
}

function idOf(conn: Connection): string {
  return conn.loggedIn ? shortId(conn.id) : '-';
}
