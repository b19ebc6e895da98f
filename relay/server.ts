// The blind relay: logs clients in by their Ed25519 relay keys, holds the capabilities hubs grant
// (in memory only), and moves opaque bytes between hubs and devices along them. It never decrypts,
// never writes to disk and never logs more than short relay ids, sizes and codes. relay/README.md
// is the spec; this file follows it. With `nats` set, the node joins other nodes through NATS
// (cluster.ts): each node is authoritative for the hubs connected to it and replicates their
// grants and revocations; everything else is routed to the node that holds the connection.

import {
  RELAY_PATH,
  capabilitySigningMessage,
  type ClientMessage,
  type RelayErrorCode,
} from './codec.ts';
import { CLUSTER_OVERHEAD_BYTES, ClusterLink, type ClusterHost, type ClusterOptions, type ControlEvent } from './cluster.ts';
import { resolveLimits, type RelayLimits } from './limits.ts';
import { RelayCounters, type RelayStats } from './metrics.ts';
import { ed25519PublicKey, verifyEd25519 } from './verify.ts';
import { Connections, type ConnectionEvents } from './server/connections.ts';
import { createRelayHttp } from './server/http.ts';
import { Mailboxes } from './server/mailboxes.ts';
import { DirectMessages } from './server/messages.ts';
import { Hubs } from './server/hubs.ts';
import { Topics } from './server/topics.ts';
import {
  HubTable,
  silentLogger,
  toHex,
  unreachable,
  type LoggedInConnection,
  type RelayLogger,
} from './server/state.ts';

export { DEFAULT_LIMITS, resolveLimits, type RelayLimits } from './limits.ts';
export type { RelayStats, DropReason, HandshakeRefusal, ClusterGauges } from './metrics.ts';
export type { ClusterOptions } from './cluster.ts';
export { encodeMediaFrame } from './server/topics.ts';
export { silentLogger, type LogFields, type RelayLogger } from './server/state.ts';

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
  /**
   * Join a cluster of relay nodes through NATS (README §11). Unset: a single node, nothing leaves
   * the process. startRelay rejects when no NATS server answers.
   */
  nats?: ClusterOptions;
}

export interface RelayHandle {
  /** ws://HOST:PORT/v1 */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly limits: Readonly<RelayLimits>;
  stats(): RelayStats;
  /** Closes every connection (code shutting-down), stops every timer and the listener, leaves the cluster. */
  close(): Promise<void>;
}

const MAX_PUBLIC_HOSTS = 8;
// ---------------------------------------------------------------------------------------------------
// The relay

class Relay implements ClusterHost, ConnectionEvents {
  readonly counters = new RelayCounters();
  readonly connections: Connections;
  private readonly hubs: HubTable;
  private readonly mailboxes: Mailboxes;
  private readonly messages: DirectMessages;
  private readonly hubPresence: Hubs;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly topics: Topics;

  constructor(
    readonly limits: RelayLimits,
    private readonly log: RelayLogger,
    publicHosts: string[] | undefined,
    private readonly cluster: ClusterLink | undefined,
  ) {
    this.connections = new Connections({ limits, log, counters: this.counters, cluster }, publicHosts, this);
    this.hubs = new HubTable(limits.hubGraceMs);
    this.topics = new Topics({ limits, log, counters: this.counters, cluster }, this.connections, this.hubs);
    this.mailboxes = new Mailboxes({ limits, log, counters: this.counters, cluster }, this.connections, this.hubs);
    this.messages = new DirectMessages({ limits, log, counters: this.counters, cluster }, this.connections, this.hubs);
    this.hubPresence = new Hubs({ limits, log, counters: this.counters, cluster }, this.connections, this.hubs, this.topics, this.mailboxes);
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), limits.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  // --- connections (ConnectionEvents) -----------------------------------------------------------

  left(conn: LoggedInConnection, current: boolean): void {
    this.topics.leave(conn);
    if (current) this.hubPresence.left(conn);
  }

  // --- frames -----------------------------------------------------------------------------------

  frame(conn: LoggedInConnection, m: ClientMessage, now: number): void {
    switch (m.type) {
      case 'login':
        return this.connections.refuse(conn, 0, 'bad-request');
      case 'ping':
        this.connections.send(conn, { type: 'pong', requestId: m.requestId }, 'control');
        return;
      case 'grant':
        return this.hubPresence.grant(conn, m.requestId, m.capability, now);
      case 'revoke':
        return this.hubPresence.revoke(conn, m.requestId, m.deviceRelayId);
      case 'mailbox-open':
        return void this.mailboxes.open(conn, m.requestId, toHex(m.mailboxId), m.expiresAt * 1000, now);
      case 'mailbox-close':
        return this.mailboxes.close(conn, m.requestId, toHex(m.mailboxId));
      case 'mailbox-post':
        return this.mailboxes.post(conn, m.requestId, m.mailboxId, m.payload, now);
      case 'send':
        return this.messages.send(conn, m.requestId, m.to, m.payload, now);
      case 'publish':
        return this.topics.publish(conn, m.requestId, m.topicId, m.flags, m.payload, now);
      case 'subscribe':
        return this.topics.subscribe(conn, m.requestId, m.hubRelayId, m.topicId, now);
      case 'unsubscribe':
        return this.topics.unsubscribe(conn, m.requestId, m.hubRelayId, m.topicId);
      default:
        return unreachable(m);
    }
  }

  loggedIn(conn: LoggedInConnection): void {
    this.hubPresence.loggedIn(conn);
  }

  // --- sweeping ---------------------------------------------------------------------------------

  sweep(now: number): void {
    this.mailboxes.sweep(now);
    this.hubPresence.sweep(now);
  }

  // --- the cluster (ClusterHost) ----------------------------------------------------------------

  onControl(e: ControlEvent): void {
    const now = Date.now();
    switch (e.kind) {
      case 'hello':
        return this.announceAll();
      case 'heartbeat':
      case 'bye':
        return;
      case 'online': {
        const local = this.connections.get(toHex(e.id));
        // The newer login wins wherever it is; a late event about an older one changes nothing.
        if (local && (local.loginAt > e.at || (local.loginAt === e.at && this.cluster && this.cluster.node > e.node))) return;
        if (local) this.connections.closeWith(local, 'replaced');
        return this.hubLivesAt(e.id, e.node, now);
      }
      case 'announce':
        return this.hubLivesAt(e.id, e.node, now);
      case 'offline': {
        const hub = this.hubs.get(toHex(e.id));
        if (!hub || hub.conn || hub.home !== e.node) return;
        hub.home = undefined;
        this.hubs.markStale(hub, now);
        return this.hubs.forgetIfEmpty(hub);
      }
      case 'grant': {
        const cap = e.capability;
        // Verified again here: NATS carries the hub's signature, so no peer can mint a capability.
        const key = ed25519PublicKey(cap.hubRelayId);
        if (!key || !verifyEd25519(key, capabilitySigningMessage(cap), cap.signature)) {
          this.counters.refused('bad-capability');
          return;
        }
        const expiresAtMs = cap.expiresAt * 1000;
        if (expiresAtMs <= now) return;
        const hub = this.hubs.ensure(cap.hubRelayId, toHex(cap.hubRelayId));
        if (!hub.conn) hub.home = e.node;
        const deviceHex = toHex(cap.deviceRelayId);
        if (!hub.caps.has(deviceHex) && hub.caps.size >= this.limits.maxCapabilitiesPerHub) return;
        return this.hubPresence.applyGrant(hub, cap, expiresAtMs);
      }
      case 'revoke': {
        const hub = this.hubs.get(toHex(e.hubRelayId));
        const deviceHex = toHex(e.deviceRelayId);
        if (hub?.caps.delete(deviceHex)) this.topics.dropDeviceSubs(hub, deviceHex, 'no-capability');
        if (hub) this.hubs.forgetIfEmpty(hub);
        return;
      }
      default:
        return unreachable(e);
    }
  }

  /** The hub is connected to node `node` now: what it does not grant again within hubGraceMs goes. */
  private hubLivesAt(id: Uint8Array, node: string, now: number): void {
    const hub = this.hubs.get(toHex(id));
    if (!hub || hub.conn) return;
    hub.home = node;
    this.hubs.markStale(hub, now);
    // Its node starts with no counts from us.
    this.topics.reportAll(hub);
  }

  /** Tells every node which hubs live here and what they granted, and our viewers of remote hubs. */
  private announceAll(): void {
    const cluster = this.cluster;
    if (!cluster) return;
    for (const hub of this.hubs.values()) {
      if (hub.conn) {
        cluster.broadcast({ kind: 'announce', node: cluster.node, id: hub.id });
        for (const cap of hub.caps.values()) {
          if (!cap.stale) cluster.broadcast({ kind: 'grant', node: cluster.node, capability: cap.capability });
        }
      } else {
        this.topics.reportAll(hub);
      }
    }
  }

  onResync(): void {
    this.announceAll();
  }

  onDirect(toHex_: string, from: Uint8Array, payload: Uint8Array): 'ok' | RelayErrorCode {
    return this.messages.deliver(this.connections.get(toHex_), from, payload);
  }

  onMailboxPost(mailboxHex: string, from: Uint8Array, payload: Uint8Array): 'ok' | RelayErrorCode {
    return this.mailboxes.deliverPost(mailboxHex, from, payload, Date.now());
  }

  onMailboxQuery(mailboxHex: string, hubHex: string): 'free' | 'taken' {
    return this.mailboxes.query(mailboxHex, hubHex);
  }

  onWatchersReport(hubHex: string, node: string, topicId: Uint8Array, count: number): void {
    this.topics.onWatchersReport(hubHex, node, topicId, count);
  }

  onMedia(hubHex: string, topicHex: string, frame: Uint8Array): void {
    this.topics.onMedia(hubHex, topicHex, frame);
  }

  onPeerGone(node: string): void {
    const now = Date.now();
    this.log.info('peer-gone', { node: node.slice(0, 8) });
    for (const hub of [...this.hubs.values()]) {
      if (hub.home === node) {
        hub.home = undefined;
        this.hubs.markStale(hub, now);
        this.hubs.forgetIfEmpty(hub);
      }
      this.topics.peerGone(hub, node);
    }
  }

  // --- reporting and shutdown -------------------------------------------------------------------

  stats(pendingHandshakes: number): RelayStats {
    let capabilities = 0;
    let topics = 0;
    let subscriptions = 0;
    for (const hub of this.hubs.values()) {
      capabilities += hub.caps.size;
      topics += hub.topics.size;
      for (const topic of hub.topics.values()) subscriptions += topic.subs.size;
    }
    return this.counters.snapshot({
      connections: this.connections.size,
      loggedIn: this.connections.loggedIn,
      hubs: this.hubs.size,
      capabilities,
      topics,
      subscriptions,
      mailboxes: this.mailboxes.size,
      queuedBytes: this.connections.queuedBytes(),
      pendingHandshakes,
      cluster: this.cluster
        ? { node: this.cluster.node.slice(0, 8), ...this.cluster.stats(), mediaOut: this.topics.mediaOut, mediaIn: this.topics.mediaIn }
        : undefined,
    });
  }

  /** Closes every connection; resolves when all are gone. */
  async shutdown(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.connections.shutdown();
    this.hubs.clear();
    this.mailboxes.clear();
  }
}

// ---------------------------------------------------------------------------------------------------
// Server

/** Starts a relay on host:port (port 0 picks one); resolves once it listens (and has joined NATS). */
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
  const cluster = options.nats ? await ClusterLink.connect(options.nats) : undefined;
  if (cluster) {
    // Every client frame may have to cross NATS whole; a frame NATS refuses would vanish silently.
    const fits = cluster.maxPayload - CLUSTER_OVERHEAD_BYTES;
    if (limits.maxMessageBytes > fits) {
      log.warn('max-message-lowered', { from: limits.maxMessageBytes, to: fits, natsMaxPayload: cluster.maxPayload });
      limits.maxMessageBytes = fits;
    }
  }
  const relay = new Relay(limits, log, publicHosts, cluster);
  const stats = (): RelayStats => relay.stats(web.pendingHandshakes);
  const web = createRelayHttp({ limits, log, counters: relay.counters, path, stats, accept: (ws, req) => relay.connections.accept(ws, req) });
  const { server, wss } = web;

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 8787, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await relay.shutdown();
    await cluster?.close();
    throw e;
  }
  server.on('error', (err: Error & { code?: string }) => log.warn('server-error', { code: err.code ?? 'unknown' }));
  cluster?.start(relay);

  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('relay: no TCP address');
  const port = address.port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `ws://${urlHost}:${port}${path}`;
  log.info('listening', { port, cluster: cluster !== undefined });

  let closed: Promise<void> | undefined;
  return {
    url,
    host,
    port,
    limits,
    stats,
    close() {
      closed ??= (async () => {
        const listenerClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await relay.shutdown();
        await cluster?.close();
        wss.close();
        await listenerClosed;
        log.info('stopped', {});
      })();
      return closed;
    },
  };
}
