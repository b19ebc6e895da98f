// The blind relay: logs clients in by their Ed25519 relay keys, holds the capabilities hubs grant
// (in memory only), and moves opaque bytes between hubs and devices along them. It never decrypts,
// never writes to disk and never logs more than short relay ids, sizes and codes. relay/README.md
// is the spec. With `nats` set, the node joins other nodes through NATS (cluster.ts): each node is
// authoritative for the hubs connected to it and replicates their grants and revocations;
// everything else is routed to the node that holds the connection.
//
// This file only assembles the server from relay/server/, one file per concern, each depending only
// on those before it: state (what the relay holds), connections (sockets, login, rate, the outgoing
// queue), topics, mailboxes and messages (direct messages), hubs (logins, capabilities),
// cluster-host (what other nodes say); http (healthz, metrics, handshakes, upgrade) stands beside them.

import { RELAY_PATH, type ClientMessage } from './codec.ts';
import { CLUSTER_OVERHEAD_BYTES, ClusterLink, type ClusterOptions } from './cluster.ts';
import { resolveLimits, type RelayLimits } from './limits.ts';
import { RelayCounters, type RelayStats } from './metrics.ts';
import { RelayClusterHost } from './server/cluster-host.ts';
import { Connections } from './server/connections.ts';
import { createRelayHttp } from './server/http.ts';
import { Hubs } from './server/hubs.ts';
import { Mailboxes } from './server/mailboxes.ts';
import { DirectMessages } from './server/messages.ts';
import { unreachable } from '../lib/unreachable.ts';
import { HubTable, silentLogger, toHex, type LoggedInConnection, type RelayContext, type RelayLogger } from './server/state.ts';
import { Topics } from './server/topics.ts';

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
  const ctx: RelayContext = { limits, log, counters: new RelayCounters(), cluster };
  const connections = new Connections(ctx, publicHosts, {
    loggedIn: (conn) => hubs.loggedIn(conn),
    frame: (conn, m, now) => dispatch(conn, m, now),
    left: (conn, current) => {
      topics.leave(conn);
      if (current) hubs.left(conn);
    },
  });
  const table = new HubTable(limits.hubGraceMs);
  const topics = new Topics(ctx, connections, table);
  const mailboxes = new Mailboxes(ctx, connections, table);
  const messages = new DirectMessages(ctx, connections, table);
  const hubs = new Hubs(ctx, connections, table, topics, mailboxes);

  /** Each frame of a logged-in connection, to the part that answers it. */
  const dispatch = (conn: LoggedInConnection, m: ClientMessage, now: number): void => {
    switch (m.type) {
      case 'login':
        return connections.refuse(conn, 0, 'bad-request');
      case 'ping':
        connections.send(conn, { type: 'pong', requestId: m.requestId }, 'control');
        return;
      case 'grant':
        return hubs.grant(conn, m.requestId, m.capability, now);
      case 'revoke':
        return hubs.revoke(conn, m.requestId, m.deviceRelayId);
      case 'mailbox-open':
        return void mailboxes.open(conn, m.requestId, toHex(m.mailboxId), m.expiresAt * 1000, now);
      case 'mailbox-close':
        return mailboxes.close(conn, m.requestId, toHex(m.mailboxId));
      case 'mailbox-post':
        return mailboxes.post(conn, m.requestId, m.mailboxId, m.payload, now);
      case 'send':
        return messages.send(conn, m.requestId, m.to, m.payload, now);
      case 'publish':
        return topics.publish(conn, m.requestId, m.topicId, m.flags, m.payload, now);
      case 'subscribe':
        return topics.subscribe(conn, m.requestId, m.hubRelayId, m.topicId, now);
      case 'unsubscribe':
        return topics.unsubscribe(conn, m.requestId, m.hubRelayId, m.topicId);
      default:
        return unreachable(m);
    }
  };

  const sweepTimer = setInterval(() => {
    const now = Date.now();
    mailboxes.sweep(now);
    hubs.sweep(now);
  }, limits.sweepIntervalMs);
  sweepTimer.unref();

  const stats = (): RelayStats =>
    ctx.counters.snapshot({
      connections: connections.size,
      loggedIn: connections.loggedIn,
      ...table.gauges(),
      mailboxes: mailboxes.size,
      queuedBytes: connections.queuedBytes(),
      pendingHandshakes: web.pendingHandshakes,
      cluster: cluster
        ? { node: cluster.node.slice(0, 8), ...cluster.stats(), mediaOut: topics.mediaOut, mediaIn: topics.mediaIn }
        : undefined,
    });
  const web = createRelayHttp({ limits, log, counters: ctx.counters, path, stats, accept: (ws, req) => connections.accept(ws, req) });
  const { server, wss } = web;

  /** Closes every connection; resolves when all are gone. */
  const shutdown = async (): Promise<void> => {
    clearInterval(sweepTimer);
    await connections.shutdown();
    table.clear();
    mailboxes.clear();
  };

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 8787, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await shutdown();
    await cluster?.close();
    throw e;
  }
  server.on('error', (err: Error & { code?: string }) => log.warn('server-error', { code: err.code ?? 'unknown' }));
  cluster?.start(new RelayClusterHost(ctx, cluster, { connections, table, topics, mailboxes, messages, hubs }));

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
        await shutdown();
        await cluster?.close();
        wss.close();
        await listenerClosed;
        log.info('stopped', {});
      })();
      return closed;
    },
  };
}
