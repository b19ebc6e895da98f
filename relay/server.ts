// The blind relay: logs clients in by their Ed25519 relay keys, holds the capabilities hubs grant
// (in memory only), and moves opaque bytes between hubs and devices along them. It never decrypts,
// never writes to disk and never logs more than short relay ids, sizes and codes. relay/README.md
// is the spec; this file follows it.

import http from 'node:http';
import { randomBytes, type KeyObject } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  CONNECTION_ID_BYTES,
  FLAG_INIT,
  FLAG_KEYFRAME,
  NONCE_BYTES,
  RELAY_ERROR_CODES,
  RELAY_PATH,
  RIGHT_WATCH,
  RelayProtocolError,
  capabilitySigningMessage,
  closesConnection,
  decodeClientMessage,
  encodeMessage,
  loginMessage,
  shortId,
  toHex,
  type Capability,
  type ClientMessage,
  type RelayErrorCode,
  type ServerMessage,
} from './codec.ts';
import { resolveLimits, type RelayLimits } from './limits.ts';
import { RelayCounters, prometheusText, type RelayStats } from './metrics.ts';
import { ed25519PublicKey, verifyEd25519 } from './verify.ts';

export { DEFAULT_LIMITS, resolveLimits, type RelayLimits } from './limits.ts';
export type { RelayStats, DropReason } from './metrics.ts';

export type LogFields = Record<string, string | number | boolean>;

/**
 * Where the relay's log lines go. Fields hold only short relay ids (8 hex digits), sizes, counts and
 * codes: never payloads, capabilities, mailbox ids, addresses or names.
 */
export interface RelayLogger {
  debug?(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
}

export const silentLogger: RelayLogger = { info() {}, warn() {} };

export interface RelayOptions {
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 8787. */
  port?: number;
  /** WebSocket path. Default '/v1'. */
  path?: string;
  limits?: Partial<RelayLimits>;
  logger?: RelayLogger;
  /**
   * The hosts (`host[:port]` as in a URL, lowercase) clients may name in their login signature.
   * Default: the Host header of each connection's upgrade request. Set it behind a proxy that
   * rewrites Host. At most 8.
   */
  publicHosts?: string[];
}

export interface RelayHandle {
  /** ws://HOST:PORT/v1 */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly limits: Readonly<RelayLimits>;
  stats(): RelayStats;
  /** Closes every connection (code shutting-down), stops every timer and the listener. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// State

interface CapEntry {
  rights: number;
  expiresAtMs: number;
  /** Granted on an earlier connection of the hub and not granted again since. */
  stale: boolean;
}

interface Mailbox {
  key: string;
  hub: HubState;
  expiresAtMs: number;
  posts: number;
  /** Relay ids that posted; the hub may send to them while the mailbox is open. */
  posters: Set<string>;
}

interface Topic {
  key: string; // hub hex + topic hex
  hub: HubState;
  topicId: Uint8Array;
  subs: Map<Conn, Sub>;
}

interface Sub {
  topic: Topic;
  conn: Conn;
  /** Media is being dropped until the next KEYFRAME or INIT. */
  dropping: boolean;
  /** Frames dropped since the last one delivered; told to the viewer with the next one. */
  dropped: number;
}

/** Everything the relay holds for one hub relay id; outlives the hub's connection by hubGraceMs. */
interface HubState {
  idHex: string;
  id: Uint8Array;
  conn: Conn | undefined;
  caps: Map<string, CapEntry>;
  mailboxes: Map<string, Mailbox>;
  topics: Map<string, Topic>;
  /** When stale capabilities are removed; undefined when none are stale. */
  staleDeadlineMs: number | undefined;
}

interface Conn {
  ws: WebSocket;
  address: string;
  connectionId: Uint8Array;
  nonce: Uint8Array;
  hosts: string[];
  id: Uint8Array | undefined;
  idHex: string | undefined;
  key: KeyObject | undefined;
  authTimer: NodeJS.Timeout | undefined;
  alive: boolean;
  detached: boolean;
  subs: Map<string, Sub>;
  tokens: number;
  refilledAt: number;
}

const MAX_PUBLIC_HOSTS = 8;
/** How long close() waits for close handshakes before terminating sockets. */
const SHUTDOWN_GRACE_MS = 1_000;

// ---------------------------------------------------------------------------------------------------
// The relay

class Relay {
  readonly counters = new RelayCounters();
  private readonly conns = new Set<Conn>();
  private readonly byId = new Map<string, Conn>();
  private readonly perAddress = new Map<string, number>();
  private readonly hubs = new Map<string, HubState>();
  private readonly mailboxes = new Map<string, Mailbox>();
  private readonly pingTimer: NodeJS.Timeout;
  private readonly sweepTimer: NodeJS.Timeout;
  private closing = false;

  constructor(
    readonly limits: RelayLimits,
    private readonly log: RelayLogger,
    private readonly publicHosts: string[] | undefined,
  ) {
    this.pingTimer = setInterval(() => this.pingAll(), Math.floor(limits.idleTimeoutMs / 2));
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), limits.sweepIntervalMs);
    this.pingTimer.unref();
    this.sweepTimer.unref();
  }

  // --- connections ------------------------------------------------------------------------------

  accept(ws: WebSocket, req: http.IncomingMessage): void {
    ws.binaryType = 'nodebuffer';
    const address = req.socket.remoteAddress ?? 'unknown';
    ws.on('error', (err: Error & { code?: string }) => {
      // ws has already closed with 1009 for an oversized frame; this only counts it.
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.counters.closed('too-large');
      this.log.debug?.('socket-error', { code: err.code ?? 'unknown' });
    });
    if (this.closing) {
      ws.close(RELAY_ERROR_CODES['shutting-down'], 'shutting-down');
      return;
    }
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (this.conns.size >= this.limits.maxConnections || fromAddress >= this.limits.maxConnectionsPerAddress) {
      this.counters.closed('too-many-connections');
      this.log.warn('connection-refused', { code: 'too-many-connections' });
      ws.close(RELAY_ERROR_CODES['too-many-connections'], 'too-many-connections');
      return;
    }
    this.perAddress.set(address, fromAddress + 1);
    const hostHeader = req.headers.host?.toLowerCase();
    const conn: Conn = {
      ws,
      address,
      connectionId: randomBytes(CONNECTION_ID_BYTES),
      nonce: randomBytes(NONCE_BYTES),
      hosts: this.publicHosts ?? (hostHeader ? [hostHeader] : []),
      id: undefined,
      idHex: undefined,
      key: undefined,
      authTimer: undefined,
      alive: true,
      detached: false,
      subs: new Map(),
      tokens: this.limits.maxMessagesPerSecond,
      refilledAt: Date.now(),
    };
    this.conns.add(conn);
    conn.authTimer = setTimeout(() => this.closeWith(conn, 'auth-timeout'), this.limits.authTimeoutMs);
    ws.on('message', (data: RawData, isBinary: boolean) => this.onFrame(conn, data, isBinary));
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('close', (code: number) => {
      this.detach(conn);
      this.log.debug?.('connection-closed', { id: this.idOf(conn), code });
    });
    this.send(conn, { type: 'challenge', nonce: conn.nonce, connectionId: conn.connectionId }, 'control');
  }

  private idOf(conn: Conn): string {
    return conn.id ? shortId(conn.id) : '-';
  }

  /** Removes a connection from all state, once. Safe to call before or after the socket closes. */
  private detach(conn: Conn): void {
    if (conn.detached) return;
    conn.detached = true;
    clearTimeout(conn.authTimer);
    this.conns.delete(conn);
    const n = (this.perAddress.get(conn.address) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(conn.address);
    else this.perAddress.set(conn.address, n);
    for (const sub of [...conn.subs.values()]) this.removeSub(sub, undefined);
    if (conn.idHex !== undefined && this.byId.get(conn.idHex) === conn) {
      this.byId.delete(conn.idHex);
      const hub = this.hubs.get(conn.idHex);
      if (hub && hub.conn === conn) this.hubWentAway(hub, Date.now());
    }
  }

  private closeWith(conn: Conn, code: RelayErrorCode): void {
    if (!closesConnection(code)) throw new Error(`closeWith: ${code} does not close`);
    this.counters.closed(code);
    this.log.info('connection-closing', { id: this.idOf(conn), code });
    this.detach(conn);
    if (conn.ws.readyState === conn.ws.OPEN || conn.ws.readyState === conn.ws.CONNECTING) {
      conn.ws.close(RELAY_ERROR_CODES[code], code);
    }
  }

  private pingAll(): void {
    for (const conn of [...this.conns]) {
      if (!conn.alive) {
        this.counters.closed('idle-timeout');
        this.log.info('connection-closing', { id: this.idOf(conn), code: 'idle-timeout' });
        this.detach(conn);
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }

  // --- sending ----------------------------------------------------------------------------------

  /**
   * Queues a frame. 'media' and 'direct' frames fit in queueBytes or are refused (the caller drops
   * or reports them); 'control' frames may use controlSlackBytes more, past which the reader is too
   * slow to keep and the connection is closed.
   */
  private sendBytes(conn: Conn, bytes: Uint8Array, kind: 'media' | 'direct' | 'control'): boolean {
    if (conn.detached || conn.ws.readyState !== conn.ws.OPEN) return false;
    const queued = conn.ws.bufferedAmount;
    const room = kind === 'control' ? this.limits.queueBytes + this.limits.controlSlackBytes : this.limits.queueBytes;
    if (queued + bytes.length > room) {
      if (kind === 'control') this.closeWith(conn, 'slow-consumer');
      return false;
    }
    conn.ws.send(bytes, { binary: true });
    this.counters.bytesOut += bytes.length;
    this.counters.framesOut += 1;
    const after = conn.ws.bufferedAmount;
    if (after > this.counters.peakQueuedBytes) this.counters.peakQueuedBytes = after;
    return true;
  }

  private send(conn: Conn, m: ServerMessage, kind: 'media' | 'direct' | 'control'): boolean {
    return this.sendBytes(conn, encodeMessage(m), kind);
  }

  private ok(conn: Conn, requestId: number): void {
    if (requestId !== 0) this.send(conn, { type: 'ok', requestId }, 'control');
  }

  private refuse(conn: Conn, requestId: number, code: RelayErrorCode): void {
    this.counters.refused(code);
    this.log.debug?.('refused', { id: this.idOf(conn), code });
    this.send(conn, { type: 'error', requestId, code }, 'control');
  }

  // --- frames -----------------------------------------------------------------------------------

  private onFrame(conn: Conn, data: RawData, isBinary: boolean): void {
    if (conn.detached) return;
    conn.alive = true;
    if (!isBinary || !Buffer.isBuffer(data)) {
      this.closeWith(conn, 'bad-frame');
      return;
    }
    this.counters.bytesIn += data.length;
    this.counters.framesIn += 1;
    let m: ClientMessage;
    try {
      m = decodeClientMessage(data);
    } catch (e) {
      if (!(e instanceof RelayProtocolError)) throw e;
      this.closeWith(conn, e.relayCode);
      return;
    }
    if (conn.id === undefined) {
      if (m.type !== 'login') this.closeWith(conn, 'not-logged-in');
      else this.login(conn, m.publicKey, m.signature);
      return;
    }
    if (!this.takeToken(conn)) {
      this.counters.drops['rate-limited'] += 1;
      this.refuse(conn, 'requestId' in m ? m.requestId : 0, 'rate-limited');
      return;
    }
    this.dispatch(conn, m, Date.now());
  }

  private takeToken(conn: Conn): boolean {
    const now = Date.now();
    const rate = this.limits.maxMessagesPerSecond;
    conn.tokens = Math.min(rate, conn.tokens + ((now - conn.refilledAt) * rate) / 1000);
    conn.refilledAt = now;
    if (conn.tokens < 1) return false;
    conn.tokens -= 1;
    return true;
  }

  private dispatch(conn: Conn, m: ClientMessage, now: number): void {
    switch (m.type) {
      case 'login':
        return this.refuse(conn, 0, 'bad-request');
      case 'ping':
        this.send(conn, { type: 'pong', requestId: m.requestId }, 'control');
        return;
      case 'grant':
        return this.grant(conn, m.requestId, m.capability, now);
      case 'revoke':
        return this.revoke(conn, m.requestId, toHex(m.deviceRelayId));
      case 'mailbox-open':
        return this.openMailbox(conn, m.requestId, toHex(m.mailboxId), m.expiresAt * 1000, now);
      case 'mailbox-close':
        return this.closeMailbox(conn, m.requestId, toHex(m.mailboxId));
      case 'mailbox-post':
        return this.postMailbox(conn, m.requestId, m.mailboxId, m.payload, now);
      case 'send':
        return this.sendDirect(conn, m.requestId, m.to, m.payload, now);
      case 'publish':
        return this.publish(conn, m.requestId, m.topicId, m.flags, m.payload, now);
      case 'subscribe':
        return this.subscribe(conn, m.requestId, m.hubRelayId, m.topicId, now);
      case 'unsubscribe': {
        const sub = conn.subs.get(toHex(m.hubRelayId) + toHex(m.topicId));
        if (sub) this.removeSub(sub, undefined);
        return this.ok(conn, m.requestId);
      }
      default:
        return unreachable(m);
    }
  }

  // --- login ------------------------------------------------------------------------------------

  private login(conn: Conn, publicKey: Uint8Array, signature: Uint8Array): void {
    const key = ed25519PublicKey(publicKey);
    const verified =
      key !== undefined &&
      conn.hosts.some((host) => {
        let message: Uint8Array;
        try {
          message = loginMessage(conn.nonce, conn.connectionId, host);
        } catch {
          return false; // a Host header too long to be a host
        }
        return verifyEd25519(key, message, signature);
      });
    if (!verified) {
      this.closeWith(conn, 'auth-failed');
      return;
    }
    clearTimeout(conn.authTimer);
    conn.authTimer = undefined;
    const id = Uint8Array.from(publicKey);
    const idHex = toHex(id);
    const previous = this.byId.get(idHex);
    if (previous) this.closeWith(previous, 'replaced');
    conn.id = id;
    conn.idHex = idHex;
    conn.key = key;
    this.byId.set(idHex, conn);
    this.log.info('logged-in', { id: shortId(id) });
    this.send(conn, { type: 'ready', relayId: id, maxMessageBytes: this.limits.maxMessageBytes }, 'control');
    const hub = this.hubs.get(idHex);
    if (hub) this.hubCameBack(hub, conn, Date.now());
  }

  // --- hubs -------------------------------------------------------------------------------------

  private hubOf(conn: Conn): HubState {
    const idHex = conn.idHex as string;
    let hub = this.hubs.get(idHex);
    if (!hub) {
      hub = {
        idHex,
        id: conn.id as Uint8Array,
        conn,
        caps: new Map(),
        mailboxes: new Map(),
        topics: new Map(),
        staleDeadlineMs: undefined,
      };
      this.hubs.set(idHex, hub);
    }
    return hub;
  }

  /** The hub must grant again within hubGraceMs what it still wants; the rest is swept. */
  private markStale(hub: HubState, now: number): void {
    if (hub.caps.size === 0) return;
    for (const cap of hub.caps.values()) cap.stale = true;
    hub.staleDeadlineMs = now + this.limits.hubGraceMs;
  }

  private hubWentAway(hub: HubState, now: number): void {
    hub.conn = undefined;
    // Mailboxes belong to a live hub: posts to an absent hub would go nowhere.
    for (const mailbox of [...hub.mailboxes.values()]) this.dropMailbox(mailbox);
    this.markStale(hub, now);
    if (hub.caps.size === 0 && hub.topics.size === 0) this.hubs.delete(hub.idHex);
  }

  private hubCameBack(hub: HubState, conn: Conn, now: number): void {
    hub.conn = conn;
    this.markStale(hub, now);
    for (const topic of hub.topics.values()) {
      this.send(conn, { type: 'watchers', topicId: topic.topicId, count: topic.subs.size }, 'control');
    }
  }

  private validCap(hub: HubState | undefined, deviceHex: string, right: number, now: number): boolean {
    const cap = hub?.caps.get(deviceHex);
    return cap !== undefined && cap.expiresAtMs > now && (cap.rights & right) === right;
  }

  private grant(conn: Conn, requestId: number, cap: Capability, now: number): void {
    if (toHex(cap.hubRelayId) !== conn.idHex || toHex(cap.deviceRelayId) === conn.idHex) {
      return this.refuse(conn, requestId, 'bad-capability');
    }
    if (!verifyEd25519(conn.key as KeyObject, capabilitySigningMessage(cap), cap.signature)) {
      return this.refuse(conn, requestId, 'bad-capability');
    }
    const expiresAtMs = cap.expiresAt * 1000;
    if (expiresAtMs <= now) return this.refuse(conn, requestId, 'expired');
    const hub = this.hubOf(conn);
    const deviceHex = toHex(cap.deviceRelayId);
    if (!hub.caps.has(deviceHex) && hub.caps.size >= this.limits.maxCapabilitiesPerHub) {
      return this.refuse(conn, requestId, 'limit-reached');
    }
    hub.caps.set(deviceHex, { rights: cap.rights, expiresAtMs, stale: false });
    this.log.info('granted', { hub: shortId(cap.hubRelayId), device: shortId(cap.deviceRelayId) });
    // A narrower grant takes effect at once.
    if ((cap.rights & RIGHT_WATCH) === 0) this.dropDeviceSubs(hub, deviceHex, 'no-capability');
    this.ok(conn, requestId);
  }

  private revoke(conn: Conn, requestId: number, deviceHex: string): void {
    const hub = this.hubs.get(conn.idHex as string);
    if (hub?.caps.delete(deviceHex)) {
      this.log.info('revoked', { hub: shortId(hub.id), device: deviceHex.slice(0, 8) });
      this.dropDeviceSubs(hub, deviceHex, 'no-capability');
    }
    this.ok(conn, requestId);
  }

  private dropDeviceSubs(hub: HubState, deviceHex: string, code: RelayErrorCode): void {
    const device = this.byId.get(deviceHex);
    if (!device) return;
    for (const sub of [...device.subs.values()]) {
      if (sub.topic.hub === hub) this.removeSub(sub, code);
    }
  }

  // --- mailboxes --------------------------------------------------------------------------------

  private openMailbox(conn: Conn, requestId: number, key: string, expiresAtMs: number, now: number): void {
    if (expiresAtMs <= now || expiresAtMs > now + this.limits.maxMailboxTtlMs) {
      return this.refuse(conn, requestId, 'expired');
    }
    const existing = this.mailboxes.get(key);
    if (existing) {
      if (existing.hub.idHex !== conn.idHex) return this.refuse(conn, requestId, 'mailbox-taken');
      existing.expiresAtMs = expiresAtMs;
      return this.ok(conn, requestId);
    }
    const hub = this.hubOf(conn);
    if (hub.mailboxes.size >= this.limits.maxMailboxesPerHub || this.mailboxes.size >= this.limits.maxMailboxes) {
      return this.refuse(conn, requestId, 'limit-reached');
    }
    const mailbox: Mailbox = { key, hub, expiresAtMs, posts: 0, posters: new Set() };
    hub.mailboxes.set(key, mailbox);
    this.mailboxes.set(key, mailbox);
    this.ok(conn, requestId);
  }

  private closeMailbox(conn: Conn, requestId: number, key: string): void {
    const mailbox = this.mailboxes.get(key);
    if (mailbox && mailbox.hub.idHex === conn.idHex) this.dropMailbox(mailbox);
    this.ok(conn, requestId);
  }

  private dropMailbox(mailbox: Mailbox): void {
    mailbox.hub.mailboxes.delete(mailbox.key);
    this.mailboxes.delete(mailbox.key);
  }

  private postMailbox(conn: Conn, requestId: number, mailboxId: Uint8Array, payload: Uint8Array, now: number): void {
    const mailbox = this.mailboxes.get(toHex(mailboxId));
    const hubConn = mailbox?.hub.conn;
    if (!mailbox || mailbox.expiresAtMs <= now || !hubConn) return this.refuse(conn, requestId, 'mailbox-closed');
    if (mailbox.hub.idHex === conn.idHex) return this.refuse(conn, requestId, 'bad-request');
    if (mailbox.posts >= this.limits.maxMailboxPosts) return this.refuse(conn, requestId, 'mailbox-full');
    mailbox.posts += 1;
    const from = conn.id as Uint8Array;
    if (!this.send(hubConn, { type: 'mailbox-message', mailboxId, from, payload }, 'direct')) {
      this.counters.drops['queue-full'] += 1;
      return this.refuse(conn, requestId, 'queue-full');
    }
    mailbox.posters.add(conn.idHex as string);
    this.ok(conn, requestId);
  }

  // --- direct messages --------------------------------------------------------------------------

  private mayMessage(fromHex: string, toHex_: string, now: number): boolean {
    // hub -> device: the hub granted the device a capability, or the device posted to an open mailbox.
    const senderAsHub = this.hubs.get(fromHex);
    if (this.validCap(senderAsHub, toHex_, 0, now)) return true;
    if (senderAsHub) {
      for (const mailbox of senderAsHub.mailboxes.values()) {
        if (mailbox.expiresAtMs > now && mailbox.posters.has(toHex_)) return true;
      }
    }
    // device -> hub: the device holds a capability from the hub.
    return this.validCap(this.hubs.get(toHex_), fromHex, 0, now);
  }

  private sendDirect(conn: Conn, requestId: number, to: Uint8Array, payload: Uint8Array, now: number): void {
    const targetHex = toHex(to);
    if (targetHex === conn.idHex) return this.refuse(conn, requestId, 'bad-request');
    // Permission before presence: a stranger learns nothing about who is online.
    if (!this.mayMessage(conn.idHex as string, targetHex, now)) return this.refuse(conn, requestId, 'no-capability');
    const target = this.byId.get(targetHex);
    if (!target) return this.refuse(conn, requestId, 'offline');
    if (!this.send(target, { type: 'message', from: conn.id as Uint8Array, payload }, 'direct')) {
      this.counters.drops['queue-full'] += 1;
      return this.refuse(conn, requestId, 'queue-full');
    }
    this.ok(conn, requestId);
  }

  // --- topics -----------------------------------------------------------------------------------

  private subscribe(conn: Conn, requestId: number, hubRelayId: Uint8Array, topicId: Uint8Array, now: number): void {
    const hubHex = toHex(hubRelayId);
    const key = hubHex + toHex(topicId);
    if (conn.subs.has(key)) return this.ok(conn, requestId);
    const hub = this.hubs.get(hubHex);
    if (!hub || !this.validCap(hub, conn.idHex as string, RIGHT_WATCH, now)) {
      return this.refuse(conn, requestId, 'no-capability');
    }
    if (conn.subs.size >= this.limits.maxSubscriptionsPerConnection) {
      return this.refuse(conn, requestId, 'limit-reached');
    }
    let topic = hub.topics.get(key);
    if (!topic) {
      topic = { key, hub, topicId: Uint8Array.from(topicId), subs: new Map() };
      hub.topics.set(key, topic);
    }
    const sub: Sub = { topic, conn, dropping: false, dropped: 0 };
    topic.subs.set(conn, sub);
    conn.subs.set(key, sub);
    this.ok(conn, requestId);
    this.tellWatchers(topic);
  }

  /** Ends a subscription; `code` set tells the viewer why the relay ended it. */
  private removeSub(sub: Sub, code: RelayErrorCode | undefined): void {
    const { topic, conn } = sub;
    if (topic.subs.get(conn) !== sub) return;
    topic.subs.delete(conn);
    conn.subs.delete(topic.key);
    if (code !== undefined) {
      this.send(conn, { type: 'unsubscribed', hubRelayId: topic.hub.id, topicId: topic.topicId, code }, 'control');
    }
    this.tellWatchers(topic);
    if (topic.subs.size === 0) {
      topic.hub.topics.delete(topic.key);
      if (!topic.hub.conn && topic.hub.caps.size === 0 && topic.hub.topics.size === 0) {
        this.hubs.delete(topic.hub.idHex);
      }
    }
  }

  private tellWatchers(topic: Topic): void {
    const hubConn = topic.hub.conn;
    if (hubConn) this.send(hubConn, { type: 'watchers', topicId: topic.topicId, count: topic.subs.size }, 'control');
  }

  private publish(
    conn: Conn,
    requestId: number,
    topicId: Uint8Array,
    flags: number,
    payload: Uint8Array,
    now: number,
  ): void {
    const hub = this.hubs.get(conn.idHex as string);
    const topic = hub?.topics.get((conn.idHex as string) + toHex(topicId));
    if (!hub || !topic) {
      this.counters.drops['no-subscriber'] += 1;
      return this.ok(conn, requestId);
    }
    const resumes = (flags & (FLAG_KEYFRAME | FLAG_INIT)) !== 0;
    const base: ServerMessage = { type: 'media', hubRelayId: hub.id, topicId, flags, dropped: 0, payload };
    let shared: Uint8Array | undefined; // one encoding for every viewer without a gap
    for (const sub of [...topic.subs.values()]) {
      const viewerHex = sub.conn.idHex as string;
      if (!this.validCap(hub, viewerHex, RIGHT_WATCH, now)) {
        this.removeSub(sub, hub.caps.has(viewerHex) ? 'expired' : 'no-capability');
        continue;
      }
      // A viewer that fell behind gets nothing until a frame it can decode from.
      if (sub.dropping && !resumes) {
        sub.dropped += 1;
        this.counters.drops['slow-viewer'] += 1;
        continue;
      }
      let bytes: Uint8Array;
      if (sub.dropped === 0) bytes = shared ??= encodeMessage(base);
      else bytes = encodeMessage({ ...base, dropped: Math.min(sub.dropped, 0xffff_ffff) });
      if (this.sendBytes(sub.conn, bytes, 'media')) {
        sub.dropping = false;
        sub.dropped = 0;
      } else if (!sub.conn.detached) {
        sub.dropping = true;
        sub.dropped += 1;
        this.counters.drops['slow-viewer'] += 1;
      }
    }
    this.ok(conn, requestId);
  }

  // --- sweeping ---------------------------------------------------------------------------------

  sweep(now: number): void {
    for (const mailbox of [...this.mailboxes.values()]) {
      if (mailbox.expiresAtMs <= now) this.dropMailbox(mailbox);
    }
    for (const hub of [...this.hubs.values()]) {
      const sweepStale = hub.staleDeadlineMs !== undefined && hub.staleDeadlineMs <= now;
      for (const [deviceHex, cap] of [...hub.caps]) {
        if (cap.expiresAtMs <= now || (sweepStale && cap.stale)) {
          hub.caps.delete(deviceHex);
          this.dropDeviceSubs(hub, deviceHex, cap.expiresAtMs <= now ? 'expired' : 'no-capability');
        }
      }
      if (sweepStale) hub.staleDeadlineMs = undefined;
      if (!hub.conn && hub.caps.size === 0 && hub.topics.size === 0) this.hubs.delete(hub.idHex);
    }
  }

  // --- reporting and shutdown -------------------------------------------------------------------

  stats(): RelayStats {
    let capabilities = 0;
    let topics = 0;
    let subscriptions = 0;
    for (const hub of this.hubs.values()) {
      capabilities += hub.caps.size;
      topics += hub.topics.size;
      for (const topic of hub.topics.values()) subscriptions += topic.subs.size;
    }
    let queuedBytes = 0;
    for (const conn of this.conns) queuedBytes += conn.ws.bufferedAmount;
    return this.counters.snapshot({
      connections: this.conns.size,
      loggedIn: this.byId.size,
      hubs: this.hubs.size,
      capabilities,
      topics,
      subscriptions,
      mailboxes: this.mailboxes.size,
      queuedBytes,
    });
  }

  /** Closes every connection; resolves when all are gone (terminated after SHUTDOWN_GRACE_MS). */
  async shutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.pingTimer);
    clearInterval(this.sweepTimer);
    const sockets = [...this.conns].map((c) => c.ws);
    for (const conn of [...this.conns]) this.closeWith(conn, 'shutting-down');
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
    this.hubs.clear();
    this.mailboxes.clear();
  }
}

function unreachable(value: never): never {
  throw new Error(`unreachable case: ${String((value as { type?: unknown }).type)}`);
}

// ---------------------------------------------------------------------------------------------------
// Server

/** Starts a relay on host:port (port 0 picks one); resolves once it listens. */
export async function startRelay(options: RelayOptions = {}): Promise<RelayHandle> {
  const limits = resolveLimits(options.limits);
  const host = options.host ?? '127.0.0.1';
  const path = options.path ?? RELAY_PATH;
  if (!path.startsWith('/')) throw new TypeError('relay: path must start with /');
  const publicHosts = options.publicHosts?.map((h) => h.toLowerCase());
  if (publicHosts && (publicHosts.length === 0 || publicHosts.length > MAX_PUBLIC_HOSTS)) {
    throw new RangeError(`relay: publicHosts must list 1..${MAX_PUBLIC_HOSTS} hosts`);
  }
  const log = options.logger ?? silentLogger;
  const relay = new Relay(limits, log, publicHosts);
  const startedAt = Date.now();

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxMessageBytes,
    perMessageDeflate: false, // compressing ciphertext gains nothing and costs memory
    clientTracking: false,
  });

  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (req.method === 'GET' && url === '/healthz') {
      const s = relay.stats();
      const body = JSON.stringify({
        ok: true,
        connections: s.connections,
        loggedIn: s.loggedIn,
        hubs: s.hubs,
        subscriptions: s.subscriptions,
        mailboxes: s.mailboxes,
        uptimeSeconds: Math.floor((Date.now() - startedAt) / 1000),
      });
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
      return;
    }
    if (req.method === 'GET' && url === '/metrics') {
      res
        .writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'cache-control': 'no-store' })
        .end(prometheusText(relay.stats()));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const pathname = (req.url ?? '').split('?')[0];
    if (pathname !== path) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => relay.accept(ws, req));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8787, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err: Error & { code?: string }) => log.warn('server-error', { code: err.code ?? 'unknown' }));

  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('relay: no TCP address');
  const port = address.port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `ws://${urlHost}:${port}${path}`;
  log.info('listening', { port });

  let closed: Promise<void> | undefined;
  return {
    url,
    host,
    port,
    limits,
    stats: () => relay.stats(),
    close() {
      closed ??= (async () => {
        const listenerClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await relay.shutdown();
        wss.close();
        await listenerClosed;
        log.info('stopped', {});
      })();
      return closed;
    },
  };
}
